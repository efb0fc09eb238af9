"""Rebuild an installed collection into a Galaxy tarball, for EE builds that cannot reach Galaxy.

usage: python tools/repack_collection.py NAMESPACE.NAME OUTPUT_DIR   (prints the tarball's path)

The copies the `ansible` PyPI package installs keep their MANIFEST.json but not every file their
FILES.json lists (CI files are dropped), so ansible-galaxy refuses them tarred as they are. This
writes a galaxy.yml from the manifest into a copy and lets `ansible-galaxy collection build` make
a consistent artifact of the same name, version and dependencies.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

# MANIFEST.json's collection_info keys that galaxy.yml accepts with the same meaning.
GALAXY_KEYS = [
    "namespace",
    "name",
    "version",
    "readme",
    "authors",
    "description",
    "license",
    "license_file",
    "tags",
    "dependencies",
    "repository",
    "documentation",
    "homepage",
    "issues",
]


def installed_path(fqcn: str) -> Path:
    listing = subprocess.run(
        ["ansible-galaxy", "collection", "list", fqcn, "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    for root, collections in json.loads(listing.stdout).items():
        if fqcn in collections:
            return Path(root).joinpath(*fqcn.split("."))
    raise SystemExit(f"{fqcn} is not installed")


def galaxy_yml(manifest: dict) -> dict:
    info = manifest["collection_info"]
    meta = {key: info[key] for key in GALAXY_KEYS if info.get(key)}
    if meta.get("license"):
        meta.pop("license_file", None)
    return meta


def main(fqcn: str, output_dir: str) -> None:
    source = installed_path(fqcn)
    manifest = json.loads((source / "MANIFEST.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "collection"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("MANIFEST.json", "FILES.json", "__pycache__"))
        (copy / "galaxy.yml").write_text(yaml.safe_dump(galaxy_yml(manifest)))
        subprocess.run(
            ["ansible-galaxy", "collection", "build", "--force", "--output-path", output_dir, str(copy)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    info = manifest["collection_info"]
    print(Path(output_dir) / f"{info['namespace']}-{info['name']}-{info['version']}.tar.gz")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.splitlines()[2])
    main(*sys.argv[1:])
