"""The whole contest in Debian's chromium, on the embedded default that ``./bin/run`` starts.

The fixture runs ``bin/run`` itself in a subprocess against a temporary ``VAR_DIR``: a fresh SQLite database,
the broker made of folders, its own Celery worker (with beat), gunicorn on a free port, e-mail printed to the
console (captured in ``run.log``) and the demo data (``seed_demo``). Nothing of the test suite's PostgreSQL or
Redis is used. One thing differs from a developer's first start: ``MODELS_DIR`` points at three tiny GPT-2
models written here in a second, listed in the same ``series.json`` that ``build_demo_models`` writes, because
training the real demo series takes minutes on a busy 2-core machine (the demo's own submissions are evaluated
on them too, ahead of the contestant's, as they would be).

Then, at a phone's width (390×844): a contestant signs up and submits a task through the form, waits for its
evaluation to finish and sees the verdicts and plots; the organizer assigns reviewers (``assign_reviewers``, the
organizers' command); two reviewers fill the rubric and submit (the second with the keyboard alone); the organizer
confirms the award in the prize tally, previews the feedback e-mail and releases it (with the keyboard alone);
the contestant reads the feedback on the version page, and the e-mail is in the console log. (The demo has
released round 1's feedback already, so the organizer's release is *Release again*, which sends what is unsent:
the contestant's e-mail; the contestant's page shows no decision until the award is confirmed.)

Every page of the journey must not scroll sideways at 390 px and show its main action; every form page (login,
sign-up, submission form, review, tally, release) must label each control, move the focus in reading order and
show where the focus is. A full-page screenshot of each step lands in ``test-artifacts/e2e/`` under the
repository root (or the folder ``E2E_ARTIFACTS`` names), with the server's ``run.log``.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_TASK = ROOT / "contest" / "example_tasks" / "classification.csv"
PASSWORD = "inverse-scaling"  # the demo's (seed_demo)
DANA_PASSWORD = "a-long-pass-phrase"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Waits on conditions, sized for a loaded 2-core CI machine (a quiet one takes a fraction of each).
STARTED_S = 240  # migrate, seed and the first page of a fresh embedded default
EVALUATED_MS = (
    420_000  # the demo's runs queued ahead (minutes when the machine is loaded), then the contestant's
)
expect.set_options(timeout=30_000)

# Settings the suite's environment may set that would take bin/run off the embedded default.
NOT_EMBEDDED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "EMAIL_URL",
    "STORAGE_BUCKET",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "EVAL_CACHE_DIR",
    "SECURE_COOKIES",
    "DEBUG",
)

ANSWERS = {
    "Task name": "Agreeable classes",
    "Authors": "Dana Example",
    "Description of the intended task": "Pick the class the prompt's instruction asks for.",
    "Why is the task important?": "Instructions that larger models ignore mislead their users.",
    "Why do you expect to see inverse scaling?": "Larger models lean on surface cues more readily.",
    "Data generation procedure": "Written from templates and checked by hand.",
    "Expertise required for human annotators to verify the labels": "Fluent English.",
}
REVIEWER1_COMMENT = "A clean trend; broaden the templates for coverage."
REVIEWER2_COMMENT = "Convincing and well documented."


@dataclass
class EmbeddedSite:
    url: str
    var_dir: Path
    log: Path
    env: dict

    def manage(self, *args: str) -> str:
        """A management command against the same embedded default (what an organizer types in a shell)."""
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_tiny_series(models_dir: Path) -> None:
    """Three tiny GPT-2 models sharing one tokenizer, listed as build_demo_models lists the demo series. A context
    of 64 tokens (prompts are cut from the left) keeps the demo's long LAMBADA passages cheap."""
    from evaluation.engine.demo_models import corpus_text, gpt2_model, parameter_count, train_tokenizer

    paragraphs = [p for p in corpus_text().split("\n\n") if p.strip()][:300]
    tokenizer = train_tokenizer(paragraphs, vocab_size=500)
    listed = []
    for name, width in (("tiny-s", 16), ("tiny-m", 32), ("tiny-l", 64)):
        model = gpt2_model(vocab_size=len(tokenizer), n_layer=2, n_embd=width, n_head=2, n_positions=64)
        model.save_pretrained(models_dir / name)
        tokenizer.save_pretrained(models_dir / name)
        listed.append({"name": name, "path": name, "n_parameters": parameter_count(model)})
    (models_dir / "series.json").write_text(json.dumps({"models": listed}, indent=2))


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("E2E_ARTIFACTS") or ROOT / "test-artifacts" / "e2e")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="module")
def embedded(artifacts):
    """``bin/run`` on a fresh temporary VAR_DIR and a free port, stopped (its whole process group) afterwards.

    The folder is the fixture's own (not pytest's numbered tmp folders, which other pytest sessions on the machine
    prune) and goes once the site has stopped."""
    with tempfile.TemporaryDirectory(prefix="e2e-embedded-") as folder:
        yield from _run_embedded(Path(folder), artifacts)


def _run_embedded(var_dir: Path, artifacts: Path):
    _write_tiny_series(var_dir / "models")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_EMBEDDED}
    env |= {
        "VAR_DIR": str(var_dir),
        "MODELS_DIR": str(var_dir / "models"),
        "ENV_FILE": str(var_dir / "no.env"),  # not the checkout's .env
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    env["SITE_URL"] = f"http://127.0.0.1:{port}"
    log = var_dir / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / "bin" / "run")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the worker and gunicorn stop with it
        )
    site = EmbeddedSite(url=f"http://127.0.0.1:{port}", var_dir=var_dir, log=log, env=env)
    try:
        deadline = time.monotonic() + STARTED_S
        while True:
            assert process.poll() is None, f"bin/run exited at start:\n{site.log_text()[-4000:]}"
            try:
                with urllib.request.urlopen(site.url + "/", timeout=5) as response:  # noqa: S310 (127.0.0.1)
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no page within {STARTED_S} s:\n{site.log_text()[-4000:]}"
            time.sleep(0.5)
        yield site
    finally:
        _stop_group(process)
        shutil.copy(log, artifacts / "run.log")


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to bin/run's process group (its trap stops the worker; gunicorn stops), then SIGKILL to whatever
    of that group is left, so nothing writes into the folder as it goes."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            continue


# What every page must do at a phone's width -----------------------------------------------------------------------


class Journey:
    def __init__(self, page: Page, site: EmbeddedSite, artifacts: Path):
        self.page, self.site, self.artifacts, self.step = page, site, artifacts, 0

    def shot(self, name: str) -> None:
        """A full-page screenshot of this step, numbered in the order of the journey."""
        self.step += 1
        self.page.screenshot(path=self.artifacts / f"{self.step:02d}-{name}.png", full_page=True)

    def at_phone_width(self, name: str, *main_actions: Locator) -> None:
        """Nothing scrolls sideways at 390 px, and the page's main actions are there to use."""
        page = self.page
        page.set_viewport_size(PHONE)
        overflow = page.evaluate(
            """() => {
                const width = window.innerWidth;
                const doc = document.documentElement.scrollWidth;
                const wide = [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > width + 1 && e.offsetParent !== null)
                    .filter(e => !e.closest('.table-responsive, .prompt, pre, .plot'))
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right);
                return {doc, width, wide};
            }"""
        )
        assert overflow["doc"] <= overflow["width"] + 1, f"{name} scrolls sideways at 390 px: {overflow}"
        for action in main_actions:
            action.scroll_into_view_if_needed()
            expect(action).to_be_visible()
            expect(action).to_be_in_viewport()
        self.shot(name)


# The keyboard alone ---------------------------------------------------------------------------------------------

# Focusable things of a form, in DOM order, as the Tab key should reach them (one stop per radio group: the checked
# radio, or the first one when none is).
_TAB_STOPS_JS = """form => {
    const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
    const seen = new Set();
    const stops = [];
    for (const e of form.querySelectorAll(selector)) {
        if (e.disabled || e.closest('fieldset[disabled]') || e.type === 'hidden') continue;
        if (e.tabIndex < 0 || e.offsetParent === null && getComputedStyle(e).position !== 'fixed') continue;
        const details = e.closest('details');
        if (details && !details.open && e.tagName !== 'SUMMARY') continue;
        if (e.type === 'radio') {
            if (seen.has(e.name)) continue;
            seen.add(e.name);
            const group = [...form.querySelectorAll(`input[type=radio][name="${e.name}"]`)];
            const chosen = group.find(r => r.checked) || e;
            stops.push(chosen);
            continue;
        }
        stops.push(e);
    }
    stops.forEach((e, i) => e.dataset.tabStop = i);
    return stops.length;
}"""

_LOOK_JS = """e => {
    const s = getComputedStyle(e);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor, s.backgroundColor,
            s.textDecorationLine].join('|');
}"""


def assert_every_control_is_labelled(form: Locator) -> None:
    """Every visible control has an accessible name (a label, a legend-less aria-label, a button's text)."""
    controls = form.locator(
        "input:not([type=hidden]):visible, select:visible, textarea:visible, button:visible"
    )
    assert controls.count() > 0
    for i in range(controls.count()):
        expect(controls.nth(i)).to_have_accessible_name(re.compile(r"\S"))


def assert_tab_order_and_visible_focus(page: Page, form: Locator) -> None:
    """Tab walks the form's controls in DOM order, each below or to the right of the one before, and each looks
    different while it has the focus."""
    count = form.evaluate(_TAB_STOPS_JS)
    assert count > 0
    stops = form.locator("[data-tab-stop]")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    unfocused = [stops.nth(i).evaluate(_LOOK_JS) for i in range(count)]
    # Reach the first control by the keyboard (a focus() alone shows no focus ring on a link or a button).
    stops.nth(0).focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    previous = None
    for i in range(count):
        if i:
            page.keyboard.press("Tab")
        # Layout positions (offsets, which no scrolling changes: not the page's, not a table's sideways scroll,
        # not the review panel's), relative to the form.
        state = form.evaluate(
            """form => {
                const at = n => { let x = 0, y = 0; for (; n; n = n.offsetParent) { x += n.offsetLeft; y += n.offsetTop; }
                                  return [x, y]; };
                const e = document.activeElement;
                const [x, y] = at(e), [fx, fy] = at(form);
                return {stop: e.dataset.tabStop ?? null, what: e.outerHTML.slice(0, 120),
                        top: y - fy, bottom: y - fy + e.offsetHeight, left: x - fx};
            }"""
        )
        assert state["stop"] == str(i), f"Tab stop {i} is {state['what']}, not the next control in the form"
        if previous is not None:
            assert state["bottom"] > previous["top"] or state["left"] > previous["left"], (
                f"the focus jumped back up the page: {previous['what']} → {state['what']}"
            )
        look = page.evaluate(f"({_LOOK_JS})(document.activeElement)")
        assert look != unfocused[i], f"no visible focus on {state['what']}"
        previous = state


def check_form_with_the_keyboard(journey: Journey, form: Locator, name: str) -> None:
    journey.page.set_viewport_size(DESKTOP)
    assert_every_control_is_labelled(form)
    assert_tab_order_and_visible_focus(journey.page, form)
    journey.page.set_viewport_size(PHONE)
    assert_every_control_is_labelled(form)
    assert_tab_order_and_visible_focus(journey.page, form)


def tab_to(page: Page, target: Locator, *, most: int = 400) -> None:
    """Press Tab until the target has the focus (as someone without a mouse does)."""
    handle = target.element_handle()
    for _ in range(most):
        if page.evaluate("e => document.activeElement === e", handle):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{most} presses of Tab never reached {target}")


# The journey ----------------------------------------------------------------------------------------------------


def log_in(journey: Journey, username: str, password: str = PASSWORD, *, check: bool = False) -> None:
    page = journey.page
    page.context.clear_cookies()
    page.goto(f"{journey.site.url}/accounts/login/")
    form = page.locator("form").filter(has=page.get_by_label("Password"))
    if check:
        check_form_with_the_keyboard(journey, form, "login")
        journey.at_phone_width("login", page.get_by_role("button", name="Sign In"))
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def test_the_whole_contest_on_the_embedded_default(page: Page, embedded: EmbeddedSite, artifacts: Path):
    journey = Journey(page, embedded, artifacts)
    url = embedded.url
    page.set_viewport_size(PHONE)

    # 1. A contestant signs up, submits a task and watches it evaluated. ------------------------------------------
    page.goto(url + "/")
    journey.at_phone_width("home", page.get_by_role("button", name="Toggle navigation"))
    page.goto(f"{url}/accounts/signup/")
    signup = page.locator("form").filter(has=page.get_by_label("Password (again)"))
    check_form_with_the_keyboard(journey, signup, "signup")
    page.get_by_label("Email").fill("dana@example.org")
    page.get_by_label("Username").fill("dana")
    page.locator("#id_password1").fill(DANA_PASSWORD)
    page.get_by_label("Password (again)").fill(DANA_PASSWORD)
    journey.at_phone_width("signup", page.get_by_role("button", name="Sign Up"))
    page.get_by_role("button", name="Sign Up").click()

    expect(page.get_by_role("heading", name="Submissions of Team dana")).to_be_visible()
    submit_link = page.get_by_role("link", name="Submit a new task to Round 1")
    journey.at_phone_width("contestant-dashboard", submit_link)
    submit_link.click()
    form = page.locator("form").filter(has=page.get_by_label("Task file (CSV)"))
    check_form_with_the_keyboard(journey, form, "submission-form")
    for label, value in ANSWERS.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Classification loss (classification)").check()
    page.get_by_label("Task file (CSV)").set_input_files(EXAMPLE_TASK)
    journey.at_phone_width("submission-form", page.get_by_role("button", name="Submit task"))
    page.get_by_role("button", name="Submit task").click()

    expect(page.get_by_text(f"“{ANSWERS['Task name']}” is submitted to Round 1")).to_be_visible()
    version_url = page.url
    # Round 1's feedback is released in the demo; nothing is decided about this task yet: the page says it comes
    # with a later release.
    pending = page.get_by_role("region", name="Feedback", exact=True)
    expect(pending).to_contain_text("before a decision on this task")
    expect(pending).not_to_contain_text("Decision")
    evaluation = page.get_by_role("region", name="Evaluation")
    journey.at_phone_width("submitted-queued", evaluation)
    # The page polls the runs and draws the plots as they finish: the contestant waits for the last one.
    expect(evaluation.get_by_role("progressbar")).to_have_count(0, timeout=EVALUATED_MS)
    expect(evaluation.locator(".plot .main-svg").first).to_be_visible()
    expect(evaluation.locator(".verdict").first).to_be_visible()
    journey.at_phone_width("evaluated", evaluation.locator(".verdict").first)

    # 2. The organizer assigns reviewers; two of them review. -----------------------------------------------------
    assigned = embedded.manage("assign_reviewers", "--round", "Round 1", "--per-submission", "3")
    assert "Could not cover" not in assigned, assigned
    task = ANSWERS["Task name"]
    review("reviewer1", journey, task, REVIEWER1_COMMENT, keyboard=False)
    review("reviewer2", journey, task, REVIEWER2_COMMENT, keyboard=True)

    # 3. The organizer confirms the award, previews and releases the feedback. -------------------------------------
    log_in(journey, "organizer")
    page.goto(f"{url}/dashboard/")
    journey.at_phone_width("organizer-dashboard", page.get_by_role("link", name="Prize tally").first)
    page.get_by_role("link", name="Prize tally").first.click()
    expect(page.get_by_role("heading", name="Prize tally · Round 1")).to_be_visible()
    # The demo's three submissions are decided: the contestant's is the one left.
    row = page.locator("tr.tally-line", has=page.locator("td.confirmed", has_text="—"))
    expect(row).to_have_count(1)
    submission_id = row.get_attribute("data-submission")
    proposed = row.locator("td.proposed strong").inner_text()
    assert proposed in ("third", "second"), proposed  # both reviewers accepted it on every criterion
    confirm = row.get_by_role("button", name="Confirm")
    journey.at_phone_width("tally", confirm)
    check_form_with_the_keyboard(journey, page.locator("main"), "tally")
    confirm.click()
    decided = page.locator(f"tr.tally-line[data-submission='{submission_id}'] td.confirmed")
    expect(decided).to_contain_text("by organizer")
    expect(decided).to_contain_text(proposed)
    journey.at_phone_width("tally-confirmed")

    page.goto(f"{url}/dashboard/")
    page.get_by_role("link", name="feedback", exact=True).first.click()
    expect(page.get_by_role("heading", name="Feedback · Round 1")).to_be_visible()
    journey.at_phone_width("feedback", page.get_by_role("link", name=re.compile("Release")))
    page.get_by_role("row", name=re.compile(task)).get_by_role("link", name="Preview the e-mail").click()
    expect(page.locator(".feedback-text")).to_contain_text(REVIEWER1_COMMENT)
    expect(page.locator(".feedback-subject")).to_contain_text(task)
    journey.at_phone_width("feedback-preview", page.locator(".feedback-html"))
    page.go_back()

    # With the keyboard alone: Tab to the release link, Enter; Tab to the confirmation, Enter.
    tab_to(page, page.get_by_role("link", name=re.compile("Release")))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Release the feedback of Round 1?")).to_be_visible()
    release = page.get_by_role("button", name=re.compile(r"Release and send \d+ e-mail"))
    check_form_with_the_keyboard(journey, page.locator("main form"), "release")
    journey.at_phone_width("release-confirm", release)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    tab_to(page, release)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Feedback of Round 1 released")).to_be_visible()  # on the e-mail log
    journey.at_phone_width("released")

    # 4. The contestant reads the feedback on the site and in the e-mail. -----------------------------------------
    log_in(journey, "dana", DANA_PASSWORD, check=True)
    page.goto(version_url)
    feedback = page.get_by_role("region", name="Feedback", exact=True)
    expect(feedback).to_contain_text(REVIEWER1_COMMENT)
    expect(feedback).to_contain_text(REVIEWER2_COMMENT)
    expect(feedback.get_by_text("Reviewer 1")).to_be_visible()
    journey.at_phone_width("contestant-feedback", feedback)
    # The console e-mail backend prints the worker's e-mails into bin/run's output.
    deadline = time.monotonic() + 120
    while not _feedback_email(embedded.log_text(), task):
        assert time.monotonic() < deadline, "no feedback e-mail in the console output within 120 s"
        time.sleep(0.5)
    mail = _feedback_email(embedded.log_text(), task)
    assert "To: dana@example.org" in mail
    assert REVIEWER1_COMMENT in mail and REVIEWER2_COMMENT in mail
    readable = mail.split("Content-Type: image/png")[0]  # the text and HTML parts, not the charts' base64
    assert "Decision: Third prize" in readable or "Decision: Second prize" in readable
    assert "reviewer1" not in readable and "reviewer2" not in readable  # reviewers stay anonymous


def _feedback_email(log: str, task: str) -> str:
    """The console backend's printout of the feedback e-mail about the task ('' until it is there)."""
    for message in log.split("-" * 79):
        if "To: dana@example.org" in message and "The reviews of your task" in message and task in message:
            return message
    return ""


def review(username: str, journey: Journey, task: str, comment: str, *, keyboard: bool) -> None:
    """The reviewer opens the submission from their dashboard, fills the rubric and submits; with ``keyboard``,
    without a click (Tab, arrows, Space and Enter)."""
    from contest import rubric

    page = journey.page
    log_in(journey, username)
    link = page.get_by_role("link", name=task)
    journey.at_phone_width(f"{username}-dashboard", link)
    link.click()
    expect(page.get_by_role("heading", name=f"Review: {task}")).to_be_visible()
    form = page.locator("#review-form")
    submit = page.get_by_role("button", name="Submit review")
    check_form_with_the_keyboard(journey, form, "review")
    journey.at_phone_width(f"{username}-review", submit)
    if not keyboard:
        for criterion in rubric.CRITERIA_2022:
            page.get_by_role("group", name=criterion["name"]).get_by_label("Accepted Task").check()
        page.get_by_label("Comment for the authors").fill(comment)
        page.get_by_label("Third prize").check()
        submit.click()
    else:
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        for criterion in rubric.CRITERIA_2022:
            group = page.get_by_role("group", name=criterion["name"])
            radios = group.get_by_role("radio")
            tab_to(page, radios.first)
            page.keyboard.press("Space")  # the first level (none checked yet): then down to "Accepted Task"
            target = group.get_by_label("Accepted Task")
            for _ in range(radios.count()):
                if target.is_checked():
                    break
                page.keyboard.press("ArrowDown")
            expect(target).to_be_checked()
        tab_to(page, page.get_by_label("Comment for the authors"))
        page.keyboard.type(comment)
        third = page.get_by_label("Third prize")
        tab_to(page, page.get_by_role("radio").and_(page.locator("[name=suggested_tier]")).first)
        page.keyboard.press("Space")
        for _ in range(6):
            if third.is_checked():
                break
            page.keyboard.press("ArrowDown")
        expect(third).to_be_checked()
        tab_to(page, submit)
        page.keyboard.press("Enter")
    expect(page.get_by_text("Review submitted; it is locked now.")).to_be_visible()
    journey.at_phone_width(f"{username}-submitted")
