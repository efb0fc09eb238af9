# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Release switching logic behind ``pyops.deploy.release`` and ``pyops.deploy.release_info``.

Plain Python on purpose (no AnsibleModule), so every rule here is unit tested directly.
Runs on the managed host, hence Python 3.8 compatible and stdlib only.

Layout under the app root ``<path>``::

    releases/<id>/         one directory per release
    shared/                state that outlives releases, linked into each release
    current -> releases/<id>
    .releases.json         status record of every release (the single source of ordering)
    .deploy.lock           deploy lock, JSON
    deploy-audit.jsonl     append-only audit log, one JSON object per line

Every operation is planned first (a list of steps plus the predicted end state) and only then
executed, so check mode runs exactly the same decisions as a real run and can report them.

One concern per file, each importing only the ones listed before it:

    layout.py    names, defaults, input validation, AppLayout and the filesystem primitives
    records.py   the records file, release order, rollback target, prune victims
    lock.py      the deploy lock
    audit.py     the audit log
    plan.py      Plan, and the filesystem steps planned from the layout: directories, shared paths, removal
    preparing.py planning state=prepared: the release directory, its code and its record
    switching.py planning switch, rollback, mark and prune: choosing targets, keeping the records
    manager.py   ReleaseManager, the state machine: entry points, the lock, running a plan, the audit line
    info.py      release_info, running_release and systemctl parsing
"""
