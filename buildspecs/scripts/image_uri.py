"""Print the ImageURI of a build output's imageDetail.json (usage: image_uri.py <file>)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def image_uri(image_detail_path: Path) -> str:
    uri = json.loads(image_detail_path.read_text())["ImageURI"]
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"{image_detail_path} has no ImageURI")
    return uri


if __name__ == "__main__":
    sys.stdout.write(image_uri(Path(sys.argv[1])) + "\n")
