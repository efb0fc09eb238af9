"""The ``text_table`` filter: rows of dicts as aligned text lines, for playbooks that report."""

DOCUMENTATION = r"""
name: text_table
short_description: Lay out a list of dicts as aligned text lines
version_added: 0.1.0
description:
  - Returns a header line and one line per row, each column as wide as its widest cell, so that
    a C(debug) task shows a readable table.
  - Missing keys show as C(-).
positional: columns
options:
  _input:
    description: The rows.
    type: list
    elements: dict
    required: true
  columns:
    description: The keys to show, in order; each is also the column's heading.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Show the hosts
  ansible.builtin.debug:
    msg: "{{ rows | pyops.deploy.text_table(['host', 'current', 'service']) }}"
"""

RETURN = r"""
_value:
  description: The header line, then one line per row.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def text_table(rows, columns):
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise AnsibleFilterError("text_table: the input must be a list of dicts")
    if not isinstance(columns, list) or not columns:
        raise AnsibleFilterError("text_table: columns must be a non-empty list of keys")
    cells = [[str(column) for column in columns]]
    cells += [["-" if row.get(column) in (None, "") else str(row[column]) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]


class FilterModule:
    def filters(self):
        return {"text_table": text_table}
