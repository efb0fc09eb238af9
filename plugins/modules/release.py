# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Prepare, switch, roll back and prune Capistrano-style releases
version_added: 0.1.0
description:
  - Manages an application root laid out as C(<path>/releases/<id>/), C(<path>/shared/) and a
    C(<path>/current) symlink pointing at C(releases/<id>) (a relative link target, so the root can be moved).
  - O(state=prepared) creates C(releases/<id>/) and C(shared/), and links the configured shared
    directories and files into the release.
  - With O(src) or O(content), O(state=prepared) also unpacks the code of a new release from a gzip
    tarball. The tarball is verified against O(sha256), checked member by member and extracted into a
    fresh C(releases/.unpacking-<id>-<random>/). The shared links, O(release_file) and the marker
    C(.pyops-unpacked) (the sha256, mode C(0640)) are added there, and the directory is renamed to
    C(releases/<id>) as the last step, so a release is never seen half unpacked.
  - O(state=switched) and O(state=rolled_back) repoint C(current) atomically. A temporary symlink
    C(<path>/.current.tmp-<random>) is created and renamed over C(current), so C(current) never goes missing.
  - O(state=pruned) removes old releases, O(state=absent) removes one release.
  - O(state=locked) and O(state=unlocked) take and release the deploy lock C(<path>/.deploy.lock).
  - O(state=marked) records the status of a release, V(good) or V(failed), for example after a health check.
  - O(state=finalized) ends a deploy in one step. It records the current release as V(good) and prunes
    as O(state=pruned) does.
  - The status of every release is kept in one file, C(<path>/.releases.json), with its creation time and a
    creation sequence number. Releases are ordered by that sequence, with the release id as tie breaker. File
    times (mtime, ctime) are never used for ordering. A release directory without a record (made by hand
    or by another tool) is listed with status V(unknown) and sorts before all recorded releases.
  - "Each record also says how the release served. C(served) becomes true when C(current) is switched to
    the release (by O(state=switched) or O(state=rolled_back)) and when O(state=finalized) records it.
    Every switch to a release records on it C(activated) (the time), C(activated_by) (V(switched) or
    V(rolled_back)) and C(served_from), the release that was current right before it."
  - The records and the audit log are written durably. The records go to a temporary file that is
    synced and renamed over C(.releases.json), then the directory is synced. Audit lines are synced too.
  - "If the disk is full, the task fails with C(could not record <what> in <path>: No space left on device;
    current still points at <release>), and the old records stay in place."
  - A switch writes the records first and then repoints C(current). If repointing fails, the old records
    are written back. Removing releases also writes the records first, then removes the directories.
  - Every change is appended as one JSON line to C(<path>/deploy-audit.jsonl). The line holds the time
    (UTC, ISO 8601), user, host, action, release, previous and new current release, source, run id and
    result. Check mode and runs that change nothing write no line, except a rollback that has nothing to
    do. Its line has the result C(nothing to do), so the log shows the request.
  - Credentials in a URL in O(source) (C(https://user:password@host), C(https://token@host)) are
    written to the audit log as C(https://***@host).
author:
  - pyops.deploy maintainers (@pyops)
options:
  path:
    description:
      - Absolute path of the application root.
      - O(state=prepared) and O(state=locked) create it when it is missing, with default ownership and
        permissions. Use M(ansible.builtin.file) to manage the root itself.
      - V(releases) and V(shared) below it may be symlinks only if they resolve inside O(path).
    type: path
    required: true
  state:
    description:
      - V(prepared) creates the release directory O(release), C(shared/), every O(shared_dirs) and
        O(shared_files) entry below C(shared/), and the links from the release into C(shared/).
        A new release is recorded with status V(prepared).
      - V(switched) points C(current) at O(release). The release must exist. If it is marked V(failed),
        the switch also needs O(force=true).
      - V(rolled_back) points C(current) at O(release) when it is given. Otherwise it goes to the release
        that served right before the current one, as recorded in C(served_from) when current was switched
        to. If that release is marked V(failed), the rollback fails naming it, unless O(force=true). If no
        predecessor is recorded (older records), it picks the newest release older than the current one that
        is marked V(good), or that is V(prepared) and was current before.
      - Without O(release), a rollback does nothing (C(changed=false), RV(rolled_back_from=null), and
        RV(msg) says why) when the current release was itself reached by a rollback, so it never walks
        further back than one release, and when the newest release is marked V(failed), never took traffic,
        and the current release is V(good). That is a deploy that failed before its switch, so the current
        release still serves. To go back further, name the release.
      - Only the release the rollback leaves is marked V(failed) (with O(mark_failed)), never another one.
      - V(pruned) keeps the current release, the rollback target and every release in O(protect). Then it
        keeps releases that served and are not V(failed), the most recently activated first, up to O(keep)
        in all. Releases that never served (prepared, or failed before they were current) never count
        towards O(keep) and are removed. So are V(failed) releases and releases beyond O(keep). Directories
        without a record count as served, as the oldest.
      - V(absent) removes release O(release). Removing the current release or a release listed in
        O(protect) fails. A release that does not exist is already absent.
      - V(locked) takes the deploy lock for this run, O(lock_owner) with O(run_id). V(unlocked) releases it.
      - V(marked) records O(status) for release O(release).
      - V(finalized) records O(release), which must be the current release, as V(good), then removes old
        releases like V(pruned) with O(keep) and O(protect). Use it once the release serves and passed
        its health check.
    type: str
    required: true
    choices: [prepared, switched, rolled_back, pruned, absent, locked, unlocked, marked, finalized]
  release:
    description:
      - Release id. It must match C(^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$), so it cannot contain C(/) and cannot
        be C(.) or C(..).
      - Required for O(state=prepared), O(state=switched), O(state=absent), O(state=marked) and
        O(state=finalized). Optional for O(state=rolled_back).
      - A timestamp such as C(20240501T120000Z) or a git commit id are typical release ids.
    type: str
  shared_dirs:
    description:
      - Directories, relative to C(shared/), to create there and to link into the release as
        C(releases/<id>/<dir>) pointing at C(shared/<dir>).
      - Entries must be relative, must not contain C(..) and must not be inside another shared entry.
      - Used with O(state=prepared).
    type: list
    elements: str
    default: []
  shared_files:
    description:
      - Files, relative to C(shared/), to link into the release like O(shared_dirs).
      - A missing file is created empty with mode C(0600), so the link never dangles. Put the real
        content there with M(ansible.builtin.template) or M(ansible.builtin.copy).
      - Used with O(state=prepared).
    type: list
    elements: str
    default: []
  force:
    description:
      - With O(state=prepared), replace files or directories that the release already has where a shared
        link belongs. Without O(force), such an entry fails the task and nothing is changed.
      - With O(state=switched) or O(state=rolled_back), allow a release marked V(failed) as the target.
      - With O(state=unlocked), release a lock held by another run. The audit line records the broken lock.
    type: bool
    default: false
  keep:
    description:
      - Number of releases that are not V(failed) to keep with O(state=pruned) and O(state=finalized). Must be
        at least V(1).
      - The current release and the rollback target are kept in addition when they are older.
    type: int
    default: 5
  protect:
    description:
      - Release ids that O(state=pruned), O(state=finalized) and O(state=absent) never remove, for example
        the release the running application server was started from.
    type: list
    elements: str
    default: []
  status:
    description:
      - Status to record with O(state=marked).
      - V(failed) releases are never rollback targets, need O(force=true) to be switched to, and do not
        count towards O(keep).
    type: str
    choices: [good, failed]
  mark_failed:
    description:
      - With O(state=rolled_back), mark the release that was current before the rollback as V(failed).
    type: bool
    default: true
  lock_owner:
    description:
      - The person or system that holds or wants the deploy lock, for example C(alice@controller).
      - Required for O(state=locked), with O(take_lock=true) and with O(release_lock=true). Needed for
        O(state=unlocked) unless O(force=true).
      - The holder of the lock is one run, the pair of O(lock_owner) and O(run_id). While another run holds
        a lock that is not stale, every state that changes something fails. This includes another run of
        the same O(lock_owner).
      - Without O(run_id), or when the lock was taken without one, the lock is matched on O(lock_owner)
        alone.
    type: str
  take_lock:
    description:
      - Take the deploy lock for this run (O(lock_owner) and O(run_id)) first, as O(state=locked) does, and keep
        it after the change. One task instead of two, for example for a rollback where every second counts.
      - While another run holds a live lock, the task fails, names that run, and leaves its lock alone.
      - If the change then fails, a lock this task took is released again, so nothing is left changed.
      - Release the lock with O(state=unlocked) when the work it guards is done.
      - Not used with O(state=locked) or O(state=unlocked).
    type: bool
    default: false
  release_lock:
    description:
      - Release the deploy lock of this run (O(lock_owner) and O(run_id)) after the change, as O(state=unlocked)
        does. One task instead of two, for example at the end of a deploy with O(state=finalized).
      - If the change fails, the lock is kept, so the caller can still act under it and release it.
      - Not used with O(state=locked), O(state=unlocked) or O(take_lock=true).
    type: bool
    default: false
  lock_ttl:
    description:
      - Seconds after which a lock counts as stale and may be taken over by another run. The time counts from
        the lock's last heartbeat (or, in a lock without one, from when it was taken).
      - Every task of the holding run refreshes the heartbeat (at most once a minute, and at most once
        every tenth of O(lock_ttl)), so a lock expires O(lock_ttl) after its run stopped working.
    type: int
    default: 3600
  lock_pid:
    description:
      - Process id to record in the lock, typically the pid of the controller process running the deploy.
      - The module itself exits right away, so its own pid would mean nothing.
      - A lock is also stale when its recorded host is the host this module runs on, a pid is recorded, and
        no process with that pid exists. Without O(lock_pid), only O(lock_ttl) makes a lock stale.
    type: int
  lock_host:
    description:
      - Host name to record with O(lock_pid), the host on which that process runs.
      - Defaults to the host name of the managed host.
    type: str
  run_id:
    description:
      - Id of this playbook run, for example a random value made once per run. It is recorded in the lock
        and in the audit log.
      - Together with O(lock_owner) it names the holder of the lock. Taking the lock again with the same
        O(run_id) does nothing, and a different O(run_id) of the same O(lock_owner) is refused while the lock
        is live.
    type: str
  source:
    description:
      - Free-form description of what is being deployed, for example a git ref or an artifact checksum.
        It is recorded in the audit log.
    type: str
  audit_user:
    description:
      - User name to record in the audit log.
      - Defaults to the login name of the session (C(os.getlogin)). If there is none, it falls back to
        E(SUDO_USER) and then to the current user.
    type: str
  src:
    description:
      - Path on the managed host of a gzip tarball (C(.tar.gz)) with the code of the release, for
        O(state=prepared).
      - It must be a regular file, not a symlink. It is removed once the code is unpacked, and also when
        the release already holds this code.
      - In check mode, a missing O(src) is not an error (the task that would copy it did not run).
      - O(state=prepared) also removes other C(.incoming-*) files directly under C(releases/) that are
        older than O(lock_ttl), tarballs copied by runs that stopped before their unpack.
      - Mutually exclusive with O(content).
    type: path
  content:
    description:
      - The gzip tarball with the code of the release, base64-encoded, for O(state=prepared).
      - Never logged or returned; results hold its O(sha256) only.
      - Mutually exclusive with O(src).
    type: str
  sha256:
    description:
      - SHA-256 digest (64 hexadecimal digits) of the tarball in O(src) or O(content). Required with them.
      - It is verified before anything is extracted, and recorded in the marker C(.pyops-unpacked).
      - When C(releases/<id>) exists already, its marker must hold this digest, otherwise the task fails.
        The same id and digest again change nothing.
    type: str
  code_group:
    description:
      - Group of the unpacked code, typically the app's group. The code is owned by the user the module
        runs as (root in a deploy) and this group.
      - Whatever the tarball says, modes lose the group and other write bits and the setuid, setgid and
        sticky bits, and gain group read (and group execute on directories and on files the owner may
        execute). The app's user and group cannot change their own code.
      - Defaults to the module's own group. Not applied to the release directory itself, see O(group).
    type: str
  release_file:
    description:
      - Path inside the release of a file the module writes with the release id and a newline, mode
        C(0644), after unpacking. Empty or unset writes none.
      - A member of the tarball at this path fails the task unless O(exclude) leaves it out.
    type: str
  exclude:
    description:
      - Paths inside the release left out of the unpacked code, with everything below them.
      - Anchored at the top of the release, so V(log) leaves out C(log) and C(log/...), in the C(x) and
        C(./x) member forms, but not C(pkg/log/).
      - The O(shared_dirs) and O(shared_files) are always left out.
    type: list
    elements: str
    default: []
  owner:
    description:
      - Owner of the directories O(state=prepared) manages (C(releases/), the release, C(shared/) and the
        shared directories), and of shared files it creates.
    type: str
  group:
    description:
      - Group of the directories and created files, like O(owner).
      - Not applied to unpacked code, see O(code_group).
    type: str
  mode:
    description:
      - Permissions of the directories O(state=prepared) manages, in octal (V('0755')) or symbolic form.
      - Not applied to shared files.
    type: raw
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: full
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
      The diff shows the current release, the status of every release, and the lock holder.
  platform:
    support: full
    platforms: posix
    description: Runs on POSIX hosts; the unpack uses C(O_NOFOLLOW), C(lchown) and C(rename()).
  idempotent:
    support: full
    description: >-
      When run twice in a row outside check mode with the same arguments, the second invocation indicates
      no change. This assumes that the system controlled or queried by the module has not changed in a
      relevant way.
notes:
  - Every path the module touches must resolve inside O(path). Symlinks that lead out of it, for example
    C(releases) pointing elsewhere or a shared entry escaping C(shared/), fail the task.
  - If C(current) exists and is not a symlink, the task fails without changing anything.
  - The lock file is created with C(O_EXCL), so two runs cannot both take it. It holds one JSON object
    with C(owner), C(run_id), C(host), C(pid), C(time) (when it was taken) and C(heartbeat) (when the
    holder was last seen). The heartbeat is rewritten atomically (a temporary file renamed over the lock,
    never following a symlink), and only while the lock still holds what this task read.
  - Taking a lock that the same run already holds changes nothing, and only refreshes the heartbeat.
  - O(state=unlocked) does nothing when there is no lock. It releases the lock of its own run. It fails,
    naming the holder, when another run holds the lock, unless O(force=true).
  - The unpack refuses the whole archive, naming the member, for absolute names, C(..) components, devices
    and FIFOs, symlinks whose target (resolved lexically from the member's directory) leaves the release,
    hardlinks to anything but a regular file extracted before them, members below a symlink member, members
    named C(.pyops-*) at the top, and the O(release_file). Files are created with C(O_EXCL|O_NOFOLLOW) and
    ownership is set without following links.
  - A failed unpack leaves only C(releases/.unpacking-*), which the next O(state=prepared) removes. Its message
    starts with C(Could not unpack the code into <release path>:).
  - Removed releases are first renamed to C(releases/.removing-<id>-<random>) and then deleted, so a
    half-deleted release is never listed.
seealso:
  - module: pyops.deploy.release_info
"""

EXAMPLES = r"""
- name: Take the deploy lock for this run (deploy_run_id is made once per playbook run)
  pyops.deploy.release:
    path: /srv/shop
    state: locked
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"
    lock_pid: "{{ controller_pid | default(omit) }}"
    lock_ttl: 900
    run_id: "{{ deploy_run_id }}"

- name: Prepare the release directory and link shared state into it
  pyops.deploy.release:
    path: /srv/shop
    state: prepared
    release: "{{ deploy_release }}"
    shared_dirs:
      - media
      - log
    shared_files:
      - .env
    owner: shop
    group: shop
    mode: "0755"
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"
    source: "git:{{ deploy_git_ref }}"

- name: Take the deploy lock, prepare the release and unpack its code from a copied tarball
  pyops.deploy.release:
    path: /srv/shop
    state: prepared
    take_lock: true
    release: "{{ deploy_release }}"
    shared_dirs: [log]
    src: "/srv/shop/releases/.incoming-{{ code_sha256 }}.tar.gz"
    sha256: "{{ code_sha256 }}"
    code_group: shop
    release_file: RELEASE
    exclude: [log, RELEASE]
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"

- name: Prepare a release from a small tarball sent inline
  pyops.deploy.release:
    path: /srv/shop
    state: prepared
    release: "{{ code_sha256 }}"
    content: "{{ lookup('ansible.builtin.file', 'build/code.tar.gz.b64') }}"
    sha256: "{{ code_sha256 }}"
    code_group: shop
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"

- name: Switch current to the new release
  pyops.deploy.release:
    path: /srv/shop
    state: switched
    release: "{{ deploy_release }}"
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"
  register: switch

- name: Record that the health check passed
  pyops.deploy.release:
    path: /srv/shop
    state: marked
    release: "{{ deploy_release }}"
    status: good
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"

- name: Roll back to the release that served before, marking this one failed, and keep the lock
  pyops.deploy.release:
    path: /srv/shop
    state: rolled_back
    take_lock: true
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"
    run_id: "{{ rollback_run_id }}"
  register: rollback

- name: Restart the app only when current moved
  ansible.builtin.systemd_service:
    name: shop.service
    state: restarted
  when: rollback.rolled_back_from is not none

- name: End the deploy, recording the release good, keeping five releases and releasing the lock
  pyops.deploy.release:
    path: /srv/shop
    state: finalized
    release: "{{ deploy_release }}"
    keep: 5
    release_lock: true
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"

- name: Keep three releases, never the one the app server started from
  pyops.deploy.release:
    path: /srv/shop
    state: pruned
    keep: 3
    protect:
      - "{{ running_release }}"
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"

- name: Release the deploy lock
  pyops.deploy.release:
    path: /srv/shop
    state: unlocked
    lock_owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"
"""

RETURN = r"""
previous:
  description: Id of the current release before the task, V(null) if there was none.
  returned: success
  type: str
  sample: "20240501T120000Z"
current:
  description:
    - Id of the current release after the task, V(null) if there is none.
    - In check mode, the release that would be current.
  returned: success
  type: str
  sample: "20240502T090000Z"
release_path:
  description:
    - Absolute path of the release directory of O(release) when it is given, otherwise of the current
      release. V(null) when there is neither.
  returned: success
  type: str
  sample: /srv/shop/releases/20240502T090000Z
releases:
  description: All releases after the task, oldest first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Release id.
      type: str
      sample: "20240502T090000Z"
    status:
      description: V(prepared), V(good), V(failed), or V(unknown) for a directory without a record.
      type: str
      sample: good
    created:
      description: When the release was prepared (UTC, ISO 8601), V(null) for an untracked directory.
      type: str
      sample: "2024-05-02T09:00:00Z"
    is_current:
      description: Whether C(current) points at this release.
      type: bool
      sample: true
    served:
      description: Whether the release was ever current (switched to, or finalized).
      type: bool
      sample: true
    activated:
      description: When C(current) was last switched to this release (UTC, ISO 8601), V(null) if never.
      type: str
      sample: "2024-05-02T09:01:00Z"
    served_from:
      description: The release that was current right before the last switch to this one.
      type: str
      sample: "20240501T120000Z"
    sha256:
      description:
        - The content of C(releases/<id>/.pyops-unpacked), written when the release's code was unpacked
          (the artifact's sha256). V(null) unless that is a regular file (not a symlink) holding 64 hex digits.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  sample:
    - id: "20240501T120000Z"
      status: good
      created: "2024-05-01T12:00:00Z"
      is_current: false
      served: true
      activated: "2024-05-01T12:01:00Z"
      served_from: null
      sha256: null
    - id: "20240502T090000Z"
      status: prepared
      created: "2024-05-02T09:00:00Z"
      is_current: true
      served: true
      activated: "2024-05-02T09:01:00Z"
      served_from: "20240501T120000Z"
      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
lock:
  description: The deploy lock after the task, V(null) when nobody holds it.
  returned: success
  type: dict
  contains:
    owner:
      description: O(lock_owner) of the holder.
      type: str
      sample: alice@web1
    host:
      description: Host recorded with the lock.
      type: str
      sample: controller.example.com
    pid:
      description: O(lock_pid) of the holder, V(null) if none was given.
      type: int
      sample: 4242
    time:
      description: When the lock was taken (UTC, ISO 8601).
      type: str
      sample: "2024-05-02T08:59:00Z"
    heartbeat:
      description: When the holder was last seen (UTC, ISO 8601). Staleness counts from here.
      type: str
      sample: "2024-05-02T09:01:00Z"
    run_id:
      description: O(run_id) of the holder.
      type: str
      sample: run-42
    stale:
      description: Whether the lock is stale and may be taken over.
      type: bool
      sample: false
    stale_reason:
      description: Why the lock is stale, V(null) when it is not.
      type: str
      sample: not seen for more than lock_ttl (3600s)
  sample:
    owner: alice@web1
    host: controller.example.com
    pid: 4242
    time: "2024-05-02T08:59:00Z"
    heartbeat: "2024-05-02T09:01:00Z"
    run_id: run-42
    stale: false
    stale_reason: null
actions:
  description: What the task did, or would do in check mode, one line per step.
  returned: success
  type: list
  elements: str
  sample:
    - point /srv/shop/current at releases/20240502T090000Z
    - record the switch to 20240502T090000Z
rolled_back_from:
  description:
    - The release that was current before the rollback, V(null) when nothing was rolled back.
    - V(null) when C(current) did not move (a rollback with nothing to do, see RV(msg)), so restart the
      application only when it is set. Also V(null) after a named rollback from no current release at all.
  returned: O(state=rolled_back)
  type: str
  sample: "20240502T090000Z"
msg:
  description:
    - What the rollback did, or why it had nothing to do.
  returned: O(state=rolled_back)
  type: str
  sample: >-
    release 20240503T090000Z failed before it took traffic; 20240502T090000Z still serves; nothing to roll
    back (name a release to go further back)
removed:
  description: Releases removed (or, in check mode, to be removed), oldest first.
  returned: O(state=pruned), O(state=finalized) or O(state=absent)
  type: list
  elements: str
  sample: ["20240420T100000Z", "20240425T100000Z"]
code:
  description: The code O(state=prepared) unpacked, or found already unpacked in the release.
  returned: O(state=prepared) with O(src) or O(content)
  type: dict
  contains:
    sha256:
      description: The O(sha256) of the tarball.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    unpacked:
      description: Whether the code was (or, in check mode, would be) unpacked; V(false) when the release held it.
      type: bool
      sample: true
  sample:
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    unpacked: true
stale_lock_replaced:
  description: The stale lock that O(state=locked) took over, with the reason it was stale.
  returned: when O(state=locked) took over a stale lock
  type: dict
  sample:
    owner: bob@web2
    host: web2
    pid: 1234
    time: "2024-05-01T08:00:00Z"
    heartbeat: "2024-05-01T08:10:00Z"
    run_id: run-41
    stale_reason: not seen for more than lock_ttl (3600s)
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    DEFAULT_KEEP,
    DEFAULT_LOCK_TTL,
    MARKABLE_STATUSES,
    STATES,
    ReleaseError,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.manager import ReleaseManager
from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked

_OPTIONS_BY_STATE = {
    "prepared": (
        "release",
        "shared_dirs",
        "shared_files",
        "force",
        "src",
        "content",
        "sha256",
        "code_group",
        "release_file",
        "exclude",
    ),
    "switched": ("release", "force"),
    "rolled_back": ("release", "mark_failed", "force"),
    "pruned": ("keep", "protect"),
    "absent": ("release", "protect"),
    "locked": ("lock_pid", "lock_host"),
    "unlocked": ("force",),
    "marked": ("release", "status"),
    "finalized": ("release", "keep", "protect"),
}
_OPTION_NAMES = {"lock_pid": "pid", "lock_host": "host"}


def argument_spec():
    return {
        "path": {"type": "path", "required": True},
        "state": {"type": "str", "required": True, "choices": list(STATES)},
        "release": {"type": "str"},
        "shared_dirs": {"type": "list", "elements": "str", "default": []},
        "shared_files": {"type": "list", "elements": "str", "default": []},
        "force": {"type": "bool", "default": False},
        "keep": {"type": "int", "default": DEFAULT_KEEP},
        "protect": {"type": "list", "elements": "str", "default": []},
        "status": {"type": "str", "choices": list(MARKABLE_STATUSES)},
        "mark_failed": {"type": "bool", "default": True},
        "lock_owner": {"type": "str"},
        "take_lock": {"type": "bool", "default": False},
        "release_lock": {"type": "bool", "default": False},
        "lock_ttl": {"type": "int", "default": DEFAULT_LOCK_TTL},
        "lock_pid": {"type": "int"},
        "lock_host": {"type": "str"},
        "run_id": {"type": "str"},
        "source": {"type": "str"},
        "audit_user": {"type": "str"},
        "src": {"type": "path"},
        "content": {"type": "str", "no_log": True},
        "sha256": {"type": "str"},
        "code_group": {"type": "str"},
        "release_file": {"type": "str"},
        "exclude": {"type": "list", "elements": "str", "default": []},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "mode": {"type": "raw"},
    }


def attribute_setter(module):
    """Owner/group/mode through AnsibleModule, so symbolic modes and check mode behave as in ansible.builtin.file."""
    params = module.params
    if params["owner"] is None and params["group"] is None and params["mode"] is None:
        return None

    def apply(path, is_dir):
        file_args = module.load_file_common_arguments(params, path=path)
        if not is_dir:
            # A directory mode such as 0755 would make a shared secret file executable and world readable.
            file_args["mode"] = None
        return module.set_fs_attributes_if_different(file_args, False, expand=False)

    return apply


def state_options(params):
    state = params["state"]
    return {_OPTION_NAMES.get(name, name): params[name] for name in _OPTIONS_BY_STATE[state]}


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[
            ("state", "prepared", ["release"]),
            ("state", "switched", ["release"]),
            ("state", "absent", ["release"]),
            ("state", "marked", ["release", "status"]),
            ("state", "finalized", ["release"]),
            ("state", "locked", ["lock_owner"]),
            ("take_lock", True, ["lock_owner"]),
            ("release_lock", True, ["lock_owner"]),
        ],
        mutually_exclusive=[("src", "content")],
        required_by={"src": "sha256", "content": "sha256"},
        supports_check_mode=True,
    )
    params = module.params
    try:
        manager = ReleaseManager(
            params["path"],
            check_mode=module.check_mode,
            audit_user=params["audit_user"],
            source=params["source"],
            run_id=params["run_id"],
            lock_owner=params["lock_owner"],
            lock_ttl=params["lock_ttl"],
            apply_attributes=attribute_setter(module),
        )
        result = manager.run(
            params["state"],
            take_lock=params["take_lock"],
            release_lock=params["release_lock"],
            **state_options(params),
        )
    except ReleaseError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"{params['state']} on {params['path']} failed: {exc}")

    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
