"""A shell printing as fast as it can in a real browser tab: the tab stays
responsive, so what the student types during the flood shows up at once.

The one timing bound of the test suite, named by issue 19: a key typed
while `yes` floods the terminal is echoed, and parsed by xterm.js, within
ECHO_BOUND_MS of the key going down: the median of ECHO_KEYS keys over
FLOOD_SECONDS, so that one key caught behind a busy moment of this shared
2-core machine does not decide; every key must echo (within 2 s). Seen
here: medians of 20 to 60 ms, single keys up to about 170 ms under load.
The bound is the issue's, generous for a median. It did not fail here
without the page's per-frame writes (the agent's coalescing already keeps
frames few), nor without both, whose median passed while single keys took
0.5 to 1.8 s: it guards against a page or path that falls behind for good."""

import statistics

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

FLOOD_SECONDS = 10
ECHO_KEYS = 8
ECHO_BOUND_MS = 100
# The flood: short lines, as fast as the container's busybox prints them.
FLOOD = "yes"
# The key typed during the flood: a byte the flood never prints.
KEY = "x"

# Times, in the page, from a key going down to xterm.js having parsed the
# output that carries its echo. Installed on the open shell's terminal.
WATCH_ECHOES = """
(key) => {
  const term = document.querySelector(".shell-tab").shell.term;
  const code = key.charCodeAt(0);
  window.echoTimes = [];
  let downAt = null;
  document.addEventListener("keydown", (e) => { if (e.key === key) downAt = performance.now(); }, true);
  const write = term.write.bind(term);
  term.write = (data, callback) => {
    const carries = downAt !== null && typeof data !== "string" && data.includes(code);
    write(data, () => {
      if (carries && downAt !== null) {
        window.echoTimes.push(performance.now() - downAt);
        downAt = null;
      }
      if (callback) callback();
    });
  };
}
"""


def test_a_key_typed_during_a_flood_echoes_at_once(agent_process, running_container, owner, browser_page):
    page = browser_page(owner)
    page.goto(f"/containers/{running_container.pk}/")
    page.get_by_role("button", name="Open shell").click()
    expect(page.locator(".shell-tab .shell-status")).to_have_text("connected")
    terminal = page.locator(".shell-pane:not([hidden]) .xterm")
    terminal.click()
    page.keyboard.type("echo ready-$((2+3))")
    page.keyboard.press("Enter")
    expect(page.locator(".shell-pane:not([hidden]) .xterm-rows")).to_contain_text("ready-5")
    page.evaluate(WATCH_ECHOES, KEY)

    page.keyboard.type(FLOOD)
    page.keyboard.press("Enter")
    # The flood has begun once the scrollback fills.
    page.wait_for_function("document.querySelector('.shell-tab').shell.term.buffer.active.length > 1000")
    pause_ms = FLOOD_SECONDS * 1000 // (ECHO_KEYS + 1)
    for typed in range(1, ECHO_KEYS + 1):
        page.wait_for_timeout(pause_ms)
        page.keyboard.press(KEY)
        page.wait_for_function(f"window.echoTimes.length >= {typed}", timeout=2000)
    echoes = page.evaluate("window.echoTimes")

    page.keyboard.press("Control+C")
    page.keyboard.type("echo done-$((3+4))")
    page.keyboard.press("Enter")
    expect(page.locator(".shell-pane:not([hidden]) .xterm-rows")).to_contain_text("done-7")
    print("echo during the flood, ms:", " ".join(f"{t:.0f}" for t in echoes))
    assert statistics.median(echoes) <= ECHO_BOUND_MS, echoes
