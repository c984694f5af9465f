"""Labs through the real stack: a student's instance is a container the real
worker starts and sets up with the lab's script, and checks run in it through
the runtime (as root, on stdin, in a cgroup of their own)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.containers.services import container_delete
from dashboard.labs.models import CheckRun, Lab, LabInstance
from dashboard.labs.selectors import lab_instance_view, lab_values
from dashboard.labs.services import lab_check_request, lab_import, lab_instance_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LAB = """\
title: Outcomes
image: busybox
limits: {{memory: 64m, pids: 64}}
params:
  - {{name: TOKEN, type: hex, bytes: 8}}
setup: |
{setup}
steps:
  - id: token
    title: The setup wrote the token
    text: Look at /root/token.
    check:
      run: test "$(cat /root/token)" = "{{{{TOKEN}}}}" && test "$TOKEN" = "{{{{TOKEN}}}}"
  - id: file
    title: Make /tmp/done
    text: Run `touch /tmp/done`.
    check:
      run: |
        [ -e /tmp/done ] && exit 0
        echo "looking for /tmp/done"
        echo "FAIL: /tmp/done is missing"
        exit 1
      fail: Not done yet.
  - id: slow
    title: A check that never ends
    text: x
    check: {{run: sleep 30, timeout: 1}}
  - id: nointerp
    title: A check with a missing interpreter
    text: x
    check: {{run: "#!/no/such/interpreter\\ntrue\\n"}}
"""
GOOD_SETUP = "  echo {{TOKEN}} > /root/token\n  echo set up"
BAD_SETUP = "  echo the setup broke >&2\n  exit 3"


@pytest.fixture
def started_lab(teacher, busybox_image, worker, wait_until):
    """start(setup) -> `owner`'s instance of a lab with that setup, once set up
    (ready or failed); its container is deleted at the end."""
    instances = []

    def start(setup, student, lab=None):
        if lab is None:
            lab = lab_import(owner=teacher, upload=SimpleUploadedFile("lab.yaml", LAB.format(setup=setup).encode()))
            lab.assigned_to_all = True
            lab.save()
        instance = lab_instance_start(lab=lab, student=student)
        instances.append(instance)
        wait_until(lambda: LabInstance.objects.get(pk=instance.pk).status in ("ready", "failed"))
        instance.refresh_from_db()
        return instance

    yield start
    for instance in instances:
        container = Container.objects.get(pk=instance.container_id)
        if not container.is_gone:
            container_delete(container=container)
        wait_until(lambda: Container.objects.get(pk=container.pk).status == "deleted")


def run_check(instance, step_id, wait_until) -> CheckRun:
    run = lab_check_request(instance=instance, step_id=step_id, user=instance.student)
    return wait_until(lambda: CheckRun.objects.filter(pk=run.pk, state__in=CheckRun.FINISHED).first())


def test_setup_runs_with_the_students_params_before_the_lab_is_ready(started_lab, owner, wait_until):
    instance = started_lab(GOOD_SETUP, owner)
    assert instance.status == "ready", instance.setup_output
    assert instance.setup_output == "set up\n"
    assert Container.objects.get(pk=instance.container_id).owner == owner
    run = run_check(instance, "token", wait_until)
    assert run.state == "passed", (run.message, run.output)
    assert run.exit_code == 0 and run.duration is not None and run.started_at is not None


def test_a_failed_setup_keeps_the_lab_from_the_student_and_shows_the_teacher_why(
    started_lab, owner, teacher, client_for, wait_until
):
    instance = started_lab(BAD_SETUP, owner)
    assert instance.status == "failed"
    assert "the setup broke" in instance.setup_output and "exit 3" in instance.setup_output
    student_page = client_for(owner).get(reverse("labs:detail", args=[instance.lab_id])).content.decode()
    assert ">Start lab</button>" in student_page and "the setup broke" not in student_page
    assert "the setup broke" in client_for(teacher).get(reverse("labs:instance", args=[instance.pk])).content.decode()
    with pytest.raises(Exception, match="not running"):
        lab_check_request(instance=instance, step_id="file", user=owner)


def test_a_failing_check_shows_its_fail_text_and_fail_line_then_passes_and_stays_passed(
    started_lab, owner, wait_until
):
    from runtime import Runtime

    instance = started_lab(GOOD_SETUP, owner)
    failed = run_check(instance, "file", wait_until)
    assert failed.state == "failed" and failed.exit_code == 1
    assert failed.message == "Not done yet. /tmp/done is missing"
    assert "looking for /tmp/done" in failed.output
    container = Container.objects.get(pk=instance.container_id)
    rt = Runtime()
    assert rt.check(container.runtime_name, b"touch /tmp/done").exit_code == 0
    assert run_check(instance, "file", wait_until).state == "passed"
    assert rt.check(container.runtime_name, b"rm /tmp/done").exit_code == 0
    assert run_check(instance, "file", wait_until).state == "failed"
    view = lab_instance_view(instance=instance, user=owner, step_id="file")
    assert view["steps"][0]["state"] == "passed" and view["progress"]["passed"] == 1


def test_a_check_that_times_out_or_cannot_start_is_an_error_not_a_failure(started_lab, owner, teacher, wait_until):
    instance = started_lab(GOOD_SETUP, owner)
    slow = run_check(instance, "slow", wait_until)
    assert slow.state == "error" and "did not finish within 1 s" in slow.message
    broken = run_check(instance, "nointerp", wait_until)
    assert broken.state == "error", (broken.exit_code, broken.message)
    student = lab_instance_view(instance=instance, user=owner)["steps"]
    assert {s["id"]: s["message"] for s in student}["nointerp"] == "The check is broken: your teacher can see why."
    seen = {s["id"]: s for s in lab_instance_view(instance=instance, user=teacher)["steps"]}
    assert seen["nointerp"]["message"] == broken.message != ""


def test_each_student_of_a_lab_gets_their_own_params(started_lab, owner, other_student, wait_until):
    mine = started_lab(GOOD_SETUP, owner)
    theirs = started_lab(GOOD_SETUP, other_student, lab=mine.lab)
    assert lab_values(lab=mine.lab, student_id=owner.pk) != lab_values(lab=mine.lab, student_id=other_student.pk)
    assert run_check(mine, "token", wait_until).state == "passed"
    assert run_check(theirs, "token", wait_until).state == "passed"


SELF_TESTED = """\
title: Self-tested
image: busybox
setup: mkdir -p /srv/lab
steps:
  - id: good
    title: A check that tells
    text: x
    check: {run: test -e /srv/lab/good}
    solve: touch /srv/lab/good
  - id: always
    title: A check that always passes
    text: x
    check: {run: "true"}
    solve: "true"
  - id: unsolved
    title: No solve
    text: x
    check: {run: "false"}
"""


def test_the_self_test_flags_a_check_that_always_passes(teacher, busybox_image, worker, wait_until, client_for):
    lab = lab_import(owner=teacher, upload=SimpleUploadedFile("lab.yaml", SELF_TESTED.encode()))
    container_id = lab.self_test_container_id
    assert lab.self_test == {"status": "queued"}
    done = wait_until(lambda: Lab.objects.filter(pk=lab.pk, self_test__status__in=["passed", "failed", "error"]).first())
    assert done.self_test["status"] == "failed", done.self_test
    steps = {step["id"]: step for step in done.self_test["steps"]}
    assert steps["good"] == {"id": "good", "ok": True, "message": "Fails before solve, passes after."}
    assert steps["always"]["ok"] is False and "passes before the step is done" in steps["always"]["message"]
    assert steps["unsolved"]["ok"] is None
    wait_until(lambda: Container.objects.get(pk=container_id).status == "deleted")
    page = client_for(teacher).get(reverse("labs:detail", args=[lab.pk])).content.decode()
    assert 'data-self-test="failed"' in page and 'data-self-test-step="always" data-ok="no"' in page


def test_a_fork_bomb_in_the_container_does_not_stall_a_check(started_lab, owner, wait_until):
    from runtime import Runtime

    instance = started_lab(GOOD_SETUP, owner)
    name = Container.objects.get(pk=instance.container_id).runtime_name
    rt = Runtime()
    bomb = rt.exec(name, ["sh", "-c", "while :; do sleep 60 & done"], tty=False)
    try:
        # The container's 64 pids are all taken: nothing more forks in its cgroup.
        wait_until(lambda: rt.stats(name)["pids"] >= 60)
        run = run_check(instance, "token", wait_until)
        assert run.state == "passed", (run.message, run.output)
    finally:
        bomb.close()


def test_after_a_worker_restart_a_lost_check_is_an_error_and_a_queued_one_runs(started_lab, owner, node, wait_until):
    from dashboard.labs.node import labs_reconcile_node

    instance = started_lab(GOOD_SETUP, owner)
    lost = CheckRun.objects.create(instance=instance, step_id="file", state="running")
    waiting = CheckRun.objects.create(instance=instance, step_id="token")
    labs_reconcile_node(node_name=node.name)
    lost.refresh_from_db()
    assert lost.state == "error" and "restarted" in lost.message
    ran = wait_until(lambda: CheckRun.objects.filter(pk=waiting.pk, state__in=CheckRun.FINISHED).first())
    assert ran.state == "passed"
