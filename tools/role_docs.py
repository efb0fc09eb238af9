"""Writes each role's variable table into its README from meta/argument_specs.yml.

The table sits between the BEGIN/END markers below; everything else in the README is hand-written.
`--check` changes nothing and fails when a table is out of date (the lint gate runs it).
"""

import argparse
import re
import sys
from pathlib import Path

import yaml

BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml: `make docs` -->"
END = "<!-- END generated -->"
ROLES = Path(__file__).resolve().parent.parent / "roles"


def cell(text):
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    # ansible-doc markup (C(), I(), V(), O()) as Markdown code.
    text = re.sub(r"\b[CIVO]\(([^)]*)\)", r"`\1`", str(text))
    return text.replace("|", "\\|").replace("\n", " ").strip()


def default_of(option):
    if "default" not in option:
        return "*required*" if option.get("required") else ""
    value = option["default"]
    return "`" + (yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()) + "`"


def type_of(option):
    kind = option.get("type", "str")
    if kind == "list" and "elements" in option:
        kind = f"list of {option['elements']}"
    if "choices" in option:
        kind += " (" + ", ".join(f"`{c}`" for c in option["choices"]) + ")"
    return kind


def render(spec):
    lines = []
    tabled = {}  # entry point -> its options, for the entry points whose table is printed
    for entry, data in spec["argument_specs"].items():
        lines += [f"### Entry point `{entry}`", "", cell(data.get("short_description", "")), ""]
        options = data.get("options", {})
        same = next((name for name, seen in tabled.items() if seen == options), None)
        if same is not None:
            # Entry points that share one option set (a YAML anchor) get the table once.
            lines += [f"The same variables as `{same}`.", ""]
            continue
        tabled[entry] = options
        lines += ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for name, option in sorted(data.get("options", {}).items()):
            description = cell(option.get("description", ""))
            lines.append(f"| `{name}` | {type_of(option)} | {default_of(option)} | {description} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def updated_readme(readme, table):
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        head, tail = text.rstrip() + "\n\n## Variables\n\n", "\n"
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a README is out of date")
    args = parser.parse_args()
    stale = []
    for spec_file in sorted(ROLES.glob("*/meta/argument_specs.yml")):
        role = spec_file.parent.parent
        readme = role / "README.md"
        text = updated_readme(readme, render(yaml.safe_load(spec_file.read_text(encoding="utf-8"))))
        if readme.exists() and readme.read_text(encoding="utf-8") == text:
            continue
        stale.append(str(readme.relative_to(ROLES.parent)))
        if not args.check:
            readme.write_text(text, encoding="utf-8")
    if args.check and stale:
        sys.exit("out of date (run `make docs`): " + ", ".join(stale))
    for name in stale:
        print("updated", name)


if __name__ == "__main__":
    main()
