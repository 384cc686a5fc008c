"""What Gavel does with input a person typed or edited: URLs carrying credentials, the
[secrets] table of config.toml, and TOML files in the wrong encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.errors import ConfigError
from app.stores.toml_file import read_toml


def test_utf8_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # What Windows Notepad saves as "UTF-8 with BOM".
    path = tmp_path / "profile.toml"
    path.write_bytes('display_name = "Zoë"\n'.encode("utf-8-sig"))
    assert read_toml(path) == {"display_name": "Zoë"}


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ('name = "x"\ndisplay_name = "Zoë"\n'.encode("latin-1"), "byte 0xeb on line 2"),
        ('display_name = "Zoë"\n'.encode("utf-16"), "it looks like UTF-16"),
        (b"d\x00=\x00'\x00x\x00'\x00", "it looks like UTF-16"),  # UTF-16-LE, no BOM
    ],
)
def test_a_file_that_is_not_utf8_is_one_sentence(tmp_path: Path, data: bytes, found: str) -> None:
    path = tmp_path / "profile.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        read_toml(path)
    assert info.value.message == (
        f"{path} is not UTF-8 text ({found}); open it in an editor and save it again with "
        "the encoding UTF-8."
    )
