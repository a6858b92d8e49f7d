"""Grading a hostile class: each submission attacks the grader one way, and gets only what it
solved. Graded by the real ``kata.grade`` (sandboxed with bubblewrap) on the fake kata.

The class, on the fake kata's two questions (q08: 3 points, two tests; q12: 4 points, one test):

- ``honest`` solves q12 (4 points);
- ``probe`` solves q12 only if it sees nothing of the outside: no grader's secret in its
  environment, no solutions, no classmate, no gradebook, no network, not root (4 points if the
  sandbox holds, 0 otherwise);
- ``forger`` leaves a daemon that waits for the score file to rewrite it;
- ``reporter`` patches pytest's ``TestReport`` so that every test "passes" (``tampered``);
- ``judge`` replaces a kata helper's code with a no-op (``tampered``);
- ``thief`` imports the reference solution; ``linker`` links to it; ``copier`` links to a
  classmate's file;
- ``vandal`` overwrites a classmate's file, the grader's tests, kata and gradebook;
- ``holder`` forks a daemon in its own session that keeps the inherited output open and sleeps;
- ``hog`` asks for 16 GB of memory.
Every one of them but ``honest`` and ``probe`` gets 0, and nothing outside its own copy changes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kata import sandbox
from kata.grade import grade

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap is not installed"),
]

MARK = "kata-attack-marker"
"""Every process an attack leaves behind carries this in its command line."""

SOLVED_Q12 = "def count():\n    return 3 + 4\n"

DAEMON = """
import os, sys, time

def daemon(body):
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    try:
        body()
    finally:
        os._exit(0)
"""

ATTACKS = {
    "forger": DAEMON
    + f'''
def rewrite():
    sys.argv[:] = ["{MARK}"]
    deadline = time.time() + 60
    while time.time() < deadline:
        for pid in os.listdir("/proc"):
            try:
                words = open(f"/proc/{{pid}}/cmdline", "rb").read().split(b"\\0")
            except OSError:
                continue
            if b"--score-json" in words:
                path = words[words.index(b"--score-json") + 1].decode()
                try:
                    import json
                    score = json.load(open(path))
                    score["earned"] = score["possible"]
                    for t in score["tests"]:
                        t["outcome"] = "passed"
                    json.dump(score, open(path, "w"))
                except (OSError, ValueError):
                    pass
        time.sleep(0.05)

daemon(rewrite)

def count():
    raise NotImplementedError
''',
    "reporter": """
import _pytest.reports as reports

_original = reports.TestReport.from_item_and_call.__func__

def _passed(cls, item, call):
    report = _original(cls, item, call)
    report.outcome = "passed"
    report.longrepr = None
    return report

reports.TestReport.from_item_and_call = classmethod(_passed)

def count():
    raise NotImplementedError
""",
    "judge": """
import kata.statements
import kata.testing

def _nothing(*args, **kwargs):
    return None

kata.statements.judge_statement.__code__ = _nothing.__code__
kata.testing.check_equal.__code__ = _nothing.__code__

def count():
    raise NotImplementedError
""",
    "thief": """
try:
    from solutions.q12_params import count
except ImportError:
    def count():
        raise NotImplementedError
""",
    "hog": """
def count():
    block = bytearray(16 * 2**30)  # more than the sandbox's address space: MemoryError
    return 3 + 4 + len(block) * 0
""",
}


@pytest.fixture
def hostile_class(fake_kata, tmp_path):
    room = tmp_path / "class"
    stubs = fake_kata / "exercises"

    def student(name: str, q12: str | None = None) -> Path:
        folder = room / name
        shutil.copytree(stubs, folder, ignore=shutil.ignore_patterns("__pycache__"))
        if q12 is not None:
            (folder / "q12_params.py").write_text(q12)
        return folder

    out = tmp_path / "grades" / "gradebook.csv"
    secret = "kata-secret-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    honest = student("honest", SOLVED_Q12)
    outside = [fake_kata / "solutions", honest / "q12_params.py", out.parent]
    student(
        "probe",
        f"""
import os, socket

def _sees_outside():
    if os.getuid() == 0 or "{secret}" in repr(dict(os.environ)):
        return True
    if any(os.path.exists(p) for p in {[str(p) for p in outside]!r}):
        return True
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        return True
    except OSError:
        return False

def count():
    return 0 if _sees_outside() else 3 + 4
""",
    )
    for name, text in ATTACKS.items():
        student(name, text)
    linker = student("linker")
    (linker / "q12_params.py").unlink()
    (linker / "q12_params.py").symlink_to(fake_kata / "solutions" / "q12_params.py")
    copier = student("copier")
    (copier / "q12_params.py").unlink()
    (copier / "q12_params.py").symlink_to(honest / "q12_params.py")
    targets = [honest / "q12_params.py", fake_kata / "tests" / "test_q12_params.py"]
    targets += [fake_kata / "kata" / "score.py", out, out.with_suffix(".json")]
    student(
        "vandal",
        f"""
import os

for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "w") as handle:
            handle.write("def count():\\n    return 0\\n")
    except OSError:
        pass
try:
    os.makedirs({str(fake_kata / "tests")!r}, exist_ok=True)
    open({str(fake_kata / "tests" / "conftest.py")!r}, "w").write("raise SystemExit")
except OSError:
    pass

def count():
    raise NotImplementedError
""",
    )
    student(
        "holder",
        DAEMON
        + f"""
def hold():
    sys.argv[:] = ["{MARK}"]
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", "{MARK}"])

daemon(hold)

def count():
    raise NotImplementedError
""",
    )
    yield room, out, secret, targets
    listener.close()


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(folder)).encode())
        if path.is_symlink():
            h.update(os.readlink(path).encode())
        elif path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def leftovers() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if MARK.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                pass
    return found


def read_csv(path: Path) -> dict[str, dict]:
    with path.open(newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_a_hostile_class_gets_only_what_it_solved(hostile_class, fake_kata, tmp_path, monkeypatch):
    room, out, secret, targets = hostile_class
    monkeypatch.setenv("KATA_TEST_SECRET", secret)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "grader-tmp"))
    (tmp_path / "grader-tmp").mkdir()
    before = {p: tree_digest(p) for p in (fake_kata, room)}
    started = time.time()
    entries = grade(
        room,
        out,
        root=fake_kata,
        jobs=2,
        timeout=90,
        state=tmp_path / "state",
        log=lambda _: None,
    )
    elapsed = time.time() - started
    rows = {e.student: e for e in entries}

    assert rows["honest"].status == "graded" and rows["honest"].total == 4.0
    assert rows["probe"].total == 4.0, (
        "the probe saw the outside: the grader's environment, solutions/, a classmate, the "
        "gradebook, the network or root"
    )
    for name in ("forger", "thief", "linker", "copier", "vandal", "holder", "hog"):
        assert rows[name].total == 0.0, f"{name} earned {rows[name].total}: {rows[name].notes}"
        assert rows[name].status == "graded", (name, rows[name].status, rows[name].notes)
    for name in ("reporter", "judge"):
        row = rows[name]
        assert row.status == "tampered" and row.total == 0.0, (
            name,
            row.status,
            row.total,
            row.notes,
        )
        assert rows[name].notes[0].startswith("tampered:")
    assert any(
        "refused q12_params.py: a link to a place outside" in n for n in rows["linker"].notes
    )
    assert any(
        "refused q12_params.py: a link to a place outside" in n for n in rows["copier"].notes
    )
    assert any(n.startswith("review") and "pytest" in n for n in rows["reporter"].notes)
    assert any(n.startswith("review") and "__code__" in n for n in rows["judge"].notes)
    assert any(n.startswith("review") and "solutions" in n for n in rows["thief"].notes)
    assert any(n.startswith("review") and "/proc" in n for n in rows["forger"].notes)
    assert not any(n.startswith("review") for n in rows["honest"].notes)

    # nobody's files, the kata or its tests changed; the gradebook is the grader's
    assert {p: tree_digest(p) for p in (fake_kata, room)} == before
    book = read_csv(out)
    assert book["honest"]["q12"] == "4.0" and book["forger"]["total"] == "0.0"
    # the daemons died with their sandboxes; the grader left no folder behind
    assert leftovers() == []
    assert list((tmp_path / "grader-tmp").iterdir()) == []
    # the holder kept its output open with a 300 s sleep: the class took far less
    assert elapsed < 300


def test_a_forged_gradebook_row_is_graded_again(fake_kata, tmp_path):
    room = tmp_path / "class"
    shutil.copytree(fake_kata / "exercises", room / "ann")
    out = tmp_path / "gradebook.csv"
    state = tmp_path / "state"
    grade(room, out, root=fake_kata, jobs=1, timeout=60, state=state, log=lambda _: None)
    book = json.loads(out.with_suffix(".json").read_text())
    book["students"][0]["total"] = 99.0
    out.with_suffix(".json").write_text(json.dumps(book))
    log = []
    (entry,) = grade(room, out, root=fake_kata, jobs=1, timeout=60, state=state, log=log.append)
    assert not entry.reused and entry.total == 0.0
    assert any("does not match its signature" in line for line in log)
    (entry,) = grade(room, out, root=fake_kata, jobs=1, timeout=60, state=state, log=log.append)
    assert entry.reused and entry.total == 0.0  # a row the grader wrote is trusted


def run_grader(*args: str, cwd: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kata.grade", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def grader_env(fake_kata: Path, tmp_path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(fake_kata), TMPDIR=str(tmp_path / "grader-tmp"))
    env["KATA_GRADE_STATE"] = str(tmp_path / "state")
    (tmp_path / "grader-tmp").mkdir(exist_ok=True)
    return env


def test_sigterm_keeps_the_graded_rows_and_leaves_nothing_running(fake_kata, tmp_path):
    room = tmp_path / "class"
    shutil.copytree(fake_kata / "exercises", room / "a-quick")
    (room / "a-quick" / "q12_params.py").write_text(SOLVED_Q12)
    for name in ("b-slow", "c-slow", "d-slow"):
        shutil.copytree(fake_kata / "exercises", room / name)
        (room / name / "q12_params.py").write_text(
            "import subprocess, sys\n"
            f"subprocess.run([sys.executable, '-c', 'import time; time.sleep(120)', '{MARK}'])\n"
        )
    out = tmp_path / "gradebook.csv"
    env = grader_env(fake_kata, tmp_path)
    grader = run_grader(
        str(room), "--out", str(out), "--jobs", "2", "--", "-o", "timeout=300",
        cwd=fake_kata, env=env,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not leftovers():
        time.sleep(0.2)
    while time.time() < deadline:  # the quick student is graded, two slow ones are running
        if out.exists() and "a-quick,graded" in out.read_text():
            break
        time.sleep(0.2)
    grader.send_signal(signal.SIGTERM)
    output, _ = grader.communicate(timeout=60)
    assert grader.returncode == 143, output
    assert "stopped by SIGTERM" in output
    rows = read_csv(out)
    assert rows["a-quick"]["status"] == "graded" and rows["a-quick"]["total"] == "4.0"
    if "d-slow" in rows:  # not started, or stopped while it ran
        assert rows["d-slow"]["status"] == "interrupted", rows["d-slow"]
    assert leftovers() == []
    assert list((tmp_path / "grader-tmp").iterdir()) == []


def test_pytest_options_after_the_folder_select_a_subset(fake_kata, tmp_path):
    room = tmp_path / "class"
    shutil.copytree(fake_kata / "exercises", room / "ann")
    (room / "ann" / "q12_params.py").write_text(SOLVED_Q12)
    out = tmp_path / "gradebook.csv"
    env = grader_env(fake_kata, tmp_path)
    grader = run_grader(str(room), "--out", str(out), "--", "-k", "counts", cwd=fake_kata, env=env)
    output, _ = grader.communicate(timeout=300)
    assert grader.returncode == 0, output
    row = read_csv(out)["ann"]
    assert (row["total"], row["possible"]) == ("4.0", "4.0"), row  # q12 alone is worth 4


def grade_without_sandbox(room: Path, fake_kata: Path, tmp_path: Path):
    (entry,) = grade(
        room,
        tmp_path / "g.csv",
        root=fake_kata,
        use_sandbox=False,
        timeout=60,
        state=tmp_path / "s",
        log=lambda _: None,
    )
    return entry


def test_without_bubblewrap_the_grader_says_how_to_install_it(fake_kata, tmp_path, monkeypatch):
    from kata import grade as grading

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    room = tmp_path / "class"
    shutil.copytree(fake_kata / "exercises", room / "ann")
    code = grading.main([str(room), "--out", str(tmp_path / "g.csv")])
    assert code == 2
    with pytest.raises(SystemExit, match="apt-get install bubblewrap"):
        grade(room, tmp_path / "g.csv", root=fake_kata, state=tmp_path / "s", log=lambda _: None)
    entry = grade_without_sandbox(room, fake_kata, tmp_path)
    assert entry.sandbox == "unsandboxed" and entry.status == "graded"
    assert read_csv(tmp_path / "g.csv")["ann"]["sandbox"] == "unsandboxed"


def test_similarity_names_a_copied_answer_in_the_notes(fake_kata, tmp_path):
    room = tmp_path / "class"
    answer = (
        '"""Question 8 (a fake): two small functions."""\n\n\n'
        "def add(a, b):\n"
        "    pieces = [a, b]\n    total = 0\n    for piece in pieces:\n"
        "        total = total + piece\n    if total == a + b:\n        return total\n"
        "    raise ArithmeticError('the sum went wrong')\n\n\n"
        "def sub(a, b):\n"
        "    steps = [a, -b]\n    difference = 0\n    for step in steps:\n"
        "        difference = difference + step\n    if difference == a - b:\n"
        "        return difference\n    raise ArithmeticError('the difference went wrong')\n\n\n"
        "def invert(m):\n    import numpy\n\n    return numpy.linalg.inv(m)\n"
    )
    for name in ("ann", "bea", "cid"):
        shutil.copytree(fake_kata / "exercises", room / name)
    (room / "ann" / "q08_conv.py").write_text(answer)
    (room / "bea" / "q08_conv.py").write_text(answer.replace("piece", "part"))
    out = tmp_path / "grades" / "gradebook.csv"
    env = grader_env(fake_kata, tmp_path)
    grader = run_grader(
        str(room), "--out", str(out), "--similarity", "--similarity-all", cwd=fake_kata, env=env
    )
    output, _ = grader.communicate(timeout=300)
    assert grader.returncode == 0, output
    rows = read_csv(out)
    assert "similar code" in rows["ann"]["notes"] and "bea" in rows["ann"]["notes"], rows["ann"]
    assert "similar code" not in rows["cid"]["notes"]
    assert (out.parent / "similarity.html").is_file()
    assert rows["ann"]["q08"] == rows["bea"]["q08"] == "2.25"  # grades never change (no --slow)


INTERPRETER = [Path(os.path.realpath(sys.executable)).parent, Path(sys.prefix)]


@pytest.mark.skipif(
    os.geteuid() != 0 or not sandbox.reachable_by_others(INTERPRETER),
    reason="needs a grader running as root with an interpreter other users can run",
)
def test_without_bubblewrap_a_root_grader_gives_the_code_its_own_user(fake_kata, tmp_path):
    room = tmp_path / "class"
    shutil.copytree(fake_kata / "exercises", room / "ann")
    (room / "ann" / "q12_params.py").write_text(
        "import os\n\ndef count():\n    return 7 if os.getuid() != 0 else 0\n"
    )
    entry = grade_without_sandbox(room, fake_kata, tmp_path)
    assert entry.sandbox == "unsandboxed, own user" and entry.total == 4.0, entry


def test_the_scan_notes_what_the_student_added_not_what_the_stub_does(tmp_path):
    from kata.submissions import static_scan

    stub = "import sys\n\n\ndef area(r):\n    raise NotImplementedError\n\n\n"
    stub += (
        'if __name__ == "__main__":\n    from kata.demo import run\n\n    sys.exit(run(area, 1))\n'
    )
    (tmp_path / "pristine").mkdir()
    (tmp_path / "pristine" / "q01_x.py").write_text(stub)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "q01_x.py").write_text(
        stub.replace("raise NotImplementedError", "return 3")
    )
    assert static_scan(tmp_path / "mine", tmp_path / "pristine") == []
    (tmp_path / "mine" / "q01_x.py").write_text("import kata.testing\n" + stub)
    (note,) = static_scan(tmp_path / "mine", tmp_path / "pristine")
    assert note.startswith("review q01_x.py: imports kata.testing") and "kata.demo" not in note
    assert "kata.demo" in static_scan(tmp_path / "mine")[0]  # without the stubs, all is noted


# Each process forks its successor and exits at once (for 10 s at most): a chain that a kill which
# walks the process list a few times can miss, and that would then run on into the next run of
# the same user, with write access to that student's copy.
FORK_CHAIN = f"""
import os, time
deadline = time.time() + 10
while time.time() < deadline:
    if os.fork():
        os._exit(0)
# {MARK}
"""


def alive(uid: int) -> list[int]:
    """The processes of ``uid`` that are not zombies."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or entry.stat().st_uid != uid:
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def reaper():
    """This process adopts the orphans of its descendants and reaps them (PID 1 may not: then
    every link of a chain of forks would stay behind as a zombie)."""
    import ctypes
    import threading

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("cannot become a child subreaper here")
    done = threading.Event()
    reaped = [0]

    def reap():
        while not done.is_set():
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                time.sleep(0.005)
            else:
                reaped[0] += 1

    thread = threading.Thread(target=reap, daemon=True)
    thread.start()
    yield lambda: reaped[0]  # how many have ended so far
    done.set()
    thread.join()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_a_chain_of_forks_does_not_outlive_its_run(reaper):
    uid = sandbox.slot_uid(15)  # the last slot of this grader's range: no grading here uses it
    setpriv = [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    subprocess.Popen([*setpriv, sys.executable, "-c", FORK_CHAIN])
    time.sleep(0.5)
    assert reaper() > 100, "the chain should be running (a link ends as soon as it has forked)"
    sandbox.kill_user(uid)
    time.sleep(0.2)
    ended = reaper()
    time.sleep(0.3)
    assert reaper() == ended and alive(uid) == [], "a process of the run's user outlived the kill"
