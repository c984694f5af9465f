"""The self-test of an imported lab, on the worker's side: in a throwaway
container of the teacher's, after the setup, each step with a `solve` must
fail its check, be solved, then pass it. A check that passes before its
solve, or not after, cannot tell done from not done: the lab is flagged.
Steps run in order, as a student would do them."""

from dashboard.containers.models import Container
from dashboard.containers.node import container_launch_on_node
from dashboard.containers.services import container_delete
from dashboard.labs.models import Lab
from dashboard.labs.node import on_this_node
from dashboard.labs.outcomes import FAILED, PASSED, check_outcome
from dashboard.labs.scripts import run_check, run_setup
from dashboard.labs.selectors import lab_values
from dashboard.labs.substitute import substitute

QUEUED, RUNNING, ERROR = "queued", "running", "error"


def _state(container, check: dict, values: dict) -> str:
    result = run_check(container, check, values)
    return check_outcome(result=result, fail=substitute(check["fail"], values), timeout=check["timeout"]).state


def _step(container, step: dict, values: dict) -> dict:
    if not step["solve"]:
        return {"id": step["id"], "ok": None, "message": "No solve script: not tested."}
    before = _state(container, step["check"], values)
    solved, output = run_setup(container, step["solve"], values)
    after = _state(container, step["check"], values)
    problems = []
    if before != FAILED:
        problems.append(f"the check {'passes' if before == PASSED else 'is broken'} before the step is done")
    if not solved:
        problems.append(f"solve failed: {output}")
    if after != PASSED:
        problems.append(f"the check {'fails' if after == FAILED else 'is broken'} after solve")
    message = "; ".join(problems).capitalize() + "." if problems else "Fails before solve, passes after."
    return {"id": step["id"], "ok": not problems, "message": message}


def _tests(lab: Lab, container: Container) -> dict:
    values = lab_values(lab=lab, student_id=lab.owner_id)
    if lab.definition["setup"].strip():
        ok, output = run_setup(container, lab.definition["setup"], values)
        if not ok:
            return {"status": ERROR, "detail": f"The setup failed: {output}", "steps": []}
    steps = [_step(container, step, values) for step in lab.steps]
    failed = [s["id"] for s in steps if s["ok"] is False]
    detail = f"Flagged: {', '.join(failed)}." if failed else "Every solved step fails before and passes after."
    return {"status": "failed" if failed else "passed", "detail": detail, "steps": steps}


def lab_self_test_on_node(*, lab_id: int) -> None:
    lab = Lab.objects.select_related("self_test_container__node").filter(id=lab_id).first()
    if lab is None or lab.self_test.get("status") != QUEUED:
        return
    container = on_this_node(lab.self_test_container, lab.owner_id)
    if container is None:
        return
    if not Lab.objects.filter(id=lab_id, self_test__status=QUEUED).update(self_test={"status": RUNNING}):
        return
    try:
        container_launch_on_node(container_id=container.id)
        container.refresh_from_db()
        if container.status != Container.Status.RUNNING:
            result = {"status": ERROR, "detail": f"The container did not start: {container.status_detail}", "steps": []}
        else:
            result = _tests(lab, container)
    except Exception as exc:
        result = {"status": ERROR, "detail": f"The self-test could not run: {exc}", "steps": []}
        raise
    finally:
        Lab.objects.filter(id=lab_id, self_test__status=RUNNING).update(self_test=result)
        container.refresh_from_db()
        if not container.is_gone:
            container_delete(container=container)
