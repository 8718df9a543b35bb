import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _bash_commands() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)


def test_readme_has_exactly_two_commands_both_doing_the_set_up() -> None:
    commands = _bash_commands()
    assert len(commands) == 2
    for command in commands:
        assert "\n" not in command
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate")
        assert (
            "pip install torch==2.14.1 torchvision==0.29.1 && pip install -e" in command
        )
    assert commands[1].endswith("python -m pytest -q -n 2 --dist worksteal")
    assert "benchmarks/run_all.py" in commands[0]


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    pattern = re.search(r"grep -m1 -E '(.*?)' README.md", script).group(1)
    matches = [c for c in _bash_commands() if re.search(pattern, c)]
    assert matches == [_bash_commands()[1]]


def test_readme_usage_example_runs() -> None:
    (example,) = re.findall(r"```python\n(.*?)\n```", README, flags=re.S)
    exec(compile(example, "README.md", "exec"), {})
