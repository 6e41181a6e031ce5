"""XdfWriter: a sender's own <desc> and header fields, exclusive creation, abort after a failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyxdf

from installation.messages import StreamInfo
from installation.record.xdf_writer import XdfWriter

INFO = StreamInfo("sig", "EEG", 2, 250.0, "float32", ("C3", "C4"), "src-1", "host-a")
DESC_XML = (
    "<desc><manufacturer>ACME</manufacturer>"
    "<channels><channel><label>C3</label><unit>uV</unit></channel>"
    "<channel><label>C4</label><unit>uV</unit></channel></channels>"
    "<custom><nested><deep>1 &amp; 2</deep></nested></custom></desc>"
)


def _load(path: Path) -> list[dict]:
    return pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)[0]


def test_desc_xml_is_kept_whole_and_neither_labels_nor_mapping_duplicate_it(tmp_path):
    path = tmp_path / "d.xdf"
    with XdfWriter(path) as w:
        sid = w.add_stream(
            INFO, {"manufacturer": "other", "engine": {"note": "added"}}, desc_xml=DESC_XML,
            header={"uid": "abc-123", "created_at": "12.5", "name": "not-this"},
        )
        w.write_samples(sid, [1.0], [[1.0, 2.0]])
    (stream,) = _load(path)
    desc = stream["info"]["desc"][0]
    assert desc["manufacturer"] == ["ACME"]  # the sender's own description wins
    assert len(desc["channels"]) == 1
    assert [c["unit"][0] for c in desc["channels"][0]["channel"]] == ["uV", "uV"]
    assert desc["custom"][0]["nested"][0]["deep"] == ["1 & 2"]
    assert desc["engine"][0]["note"] == ["added"]
    assert stream["info"]["uid"] == ["abc-123"] and stream["info"]["created_at"] == ["12.5"]
    assert stream["info"]["name"] == ["sig"]


def test_labels_are_added_when_desc_xml_has_no_channels(tmp_path):
    path = tmp_path / "d.xdf"
    with XdfWriter(path) as w:
        w.add_stream(INFO, desc_xml="<desc><manufacturer>ACME</manufacturer></desc>")
    desc = _load(path)[0]["info"]["desc"][0]
    assert [c["label"][0] for c in desc["channels"][0]["channel"]] == ["C3", "C4"]
    assert desc["manufacturer"] == ["ACME"]


@pytest.mark.parametrize("bad", ["<desc><open></desc>", "<info><desc/></info>"])
def test_desc_xml_that_is_not_one_desc_element_is_refused(tmp_path, bad):
    with XdfWriter(tmp_path / "d.xdf") as w, pytest.raises(ValueError, match="desc_xml"):
        w.add_stream(INFO, desc_xml=bad)


def test_exclusive_writer_refuses_to_replace_a_file(tmp_path):
    path = tmp_path / "x.xdf"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        XdfWriter(path, exclusive=True)
    assert path.read_bytes() == b"precious"


def test_abort_closes_without_footers_and_the_samples_still_load(tmp_path):
    path = tmp_path / "a.xdf"
    w = XdfWriter(path)
    sid = w.add_stream(INFO)
    w.write_samples(sid, [1.0, 2.0], np.ones((2, 2)))
    w.abort()
    w.abort()
    assert w.closed
    (stream,) = _load(path)
    assert "footer" not in stream and stream["time_stamps"].tolist() == [1.0, 2.0]
