import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pyops.deploy.plugins.filter.systemd_env import systemd_env

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\\n"
    "#not a comment\n"
    "-----END PRIVATE KEY-----\n"
)
AWKWARD = {
    "PEM": PEM,
    "DOLLARS": "pa$$word ${HOME} $HOME `id`",
    "QUOTES": "it's \"quoted\" ''",
    "HASH": "#starts with a hash ; and a semicolon",
    "BACKSLASHES": "C:\\path\\n\\u00e9 ends with \\",
    "NON_ASCII": "é€ 日本 \U0001f600",
    "SPACES": "  leading and trailing  \t",
    "EMPTY": "",
    "CR": "a\r\nb",
}


def parse(text):
    """systemd's reading of an environment file (env-file.c's parse_env_file_internal, v252 and later),
    for the forms it can meet: comments, KEY=, unquoted, single- and double-quoted values."""
    env, i, n = {}, 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        if text[i] in "#;":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        while text[i] != "=":
            assert text[i] != "\n", f"no '=' in line at {start}"
            i += 1
        key = text[start:i].strip()
        i += 1
        value = []
        while i < n and text[i] in " \t":
            i += 1
        while i < n and text[i] != "\n":
            c = text[i]
            if c == '"':
                i += 1
                while text[i] != '"':
                    if text[i] == "\\":
                        i += 1
                        if text[i] in '"\\`$':
                            value.append(text[i])
                        elif text[i] != "\n":
                            value += ["\\", text[i]]
                    else:
                        value.append(text[i])
                    i += 1
                i += 1
            elif c == "'":
                i += 1
                while text[i] != "'":
                    value.append(text[i])
                    i += 1
                i += 1
            elif c == "\\":
                i += 1
                if text[i] != "\n":
                    value.append(text[i])
                i += 1
            else:
                value.append(c)
                i += 1
        env[key] = "".join(value).rstrip(" \t\r") if '"' not in text[start:i] else "".join(value)
    return env


def test_every_awkward_value_reads_back_exactly():
    assert parse(systemd_env(AWKWARD)) == AWKWARD


def test_the_old_to_json_rendering_corrupted_them():
    # What env.j2 wrote before: to_json, which systemd does not unescape.
    import json

    old = "".join(f"{key}={json.dumps(value)}\n" for key, value in sorted(AWKWARD.items()))
    read = parse(old)
    assert read["PEM"] != PEM and "\\n" in read["PEM"]
    assert read["NON_ASCII"] != AWKWARD["NON_ASCII"]


def test_lines_are_sorted_quoted_and_escaped():
    assert systemd_env({"B": 'x"y', "A": "$1\\"}) == 'A="\\$1\\\\"\nB="x\\"y"\n'


def test_multi_line_values_span_lines_inside_their_quotes():
    assert systemd_env({"K": "a\nb\n"}) == 'K="a\nb\n"\n'


def test_non_strings_are_written_as_str_does():
    assert parse(systemd_env({"N": 5, "T": True, "F": 1.5})) == {"N": "5", "T": "True", "F": "1.5"}


def test_no_variables_no_lines():
    assert systemd_env({}) == ""


@pytest.mark.parametrize("key", ["1X", "A-B", "A B", "", "É", "A=B", "A\nB"])
def test_a_key_that_is_no_variable_name_is_refused(key):
    with pytest.raises(AnsibleFilterError, match="not an environment variable name"):
        systemd_env({key: "v"})


@pytest.mark.parametrize("char", ["\x00", "\ufeff", "\ufffe", "\udc80"])
def test_a_value_systemd_cannot_pass_is_refused_without_showing_it(char):
    with pytest.raises(AnsibleFilterError) as error:
        systemd_env({"SECRET": "hunter2" + char})
    assert "SECRET" in str(error.value) and "hunter2" not in str(error.value)


def test_input_must_be_a_dict():
    with pytest.raises(AnsibleFilterError):
        systemd_env(["A=1"])
