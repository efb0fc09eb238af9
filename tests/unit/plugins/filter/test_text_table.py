import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pyops.deploy.plugins.filter.text_table import text_table


def test_columns_are_as_wide_as_their_widest_cell():
    rows = [{"host": "app1", "current": "v10"}, {"host": "application2", "current": "v2"}]
    assert text_table(rows, ["host", "current"]) == [
        "host          current",
        "app1          v10",
        "application2  v2",
    ]


def test_missing_and_empty_cells_show_a_dash():
    assert text_table([{"host": "a", "lock": ""}], ["host", "lock", "current"]) == [
        "host  lock  current",
        "a     -     -",
    ]


def test_no_rows_gives_the_header_only():
    assert text_table([], ["host"]) == ["host"]


@pytest.mark.parametrize(("rows", "columns"), [("x", ["a"]), ([1], ["a"]), ([{}], []), ([{}], "a")])
def test_bad_input_is_refused(rows, columns):
    with pytest.raises(AnsibleFilterError):
        text_table(rows, columns)
