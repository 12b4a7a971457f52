"""Tests for model files (sleec._persist, SLEEC.save/load) and pickling: round trips and the
refusal of truncated, corrupted, altered, foreign and pickle-carrying files: truncation,
flipped bytes, damaged zip headers, overlapping zip members, deflated bombs, checksums,
format versions, object arrays, and contents that are inconsistent under a valid checksum
(parameters, arrays, types, label names, nested JSON)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import io
import json
import os
import pickle
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from _helpers import TINY_SEEDED, central_directory, peak_rss_mb, resign
from conftest import NO_STAGE
from sleec import SLEEC, ModelFormatError, _persist, _state
from sleec._persist import load_model
from sleec._state import FORMAT_VERSION, FittedState, Learner, half_precision

PARAMS = {
    "n_components": 6,
    "n_graph_neighbors": 8,
    "n_neighbors": 4,
    "n_clusters": 2,
    "n_learners": 2,
    "random_state": 3,
}


@pytest.fixture(scope="module")
def data(toy_xmc):
    Xtr, Ytr, Xte, _, _ = toy_xmc
    return Xtr, Ytr, Xte


@pytest.fixture(scope="module")
def model(data):
    Xtr, Ytr, _ = data
    return SLEEC(**PARAMS).fit(Xtr, Ytr)


@pytest.fixture
def saved(model, tmp_path) -> Path:
    path = tmp_path / "model.npz"
    model.save(path)
    return path


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# np.savez takes allow_pickle from NumPy 2.1; older versions (the project supports 1.26) store
# the keyword as one more array named "allow_pickle" (and always pickle object arrays).
_SAVEZ_TAKES_ALLOW_PICKLE = "allow_pickle" in inspect.signature(np.savez).parameters


def write_npz(path: Path, payload: dict[str, np.ndarray], allow_pickle: bool = False) -> None:
    options = {"allow_pickle": allow_pickle} if _SAVEZ_TAKES_ALLOW_PICKLE else {}
    with open(path, "wb") as fh:
        np.savez(fh, **options, **payload)


def assert_same_model(a: SLEEC, b: SLEEC, X) -> None:
    assert a.get_params() == b.get_params()
    assert (a.n_features_in_, a.n_labels_) == (b.n_features_in_, b.n_labels_)
    assert (a.train_labels_ != b.train_labels_).nnz == 0
    assert len(a.learners_) == len(b.learners_)
    for la, lb in zip(a.learners_, b.learners_, strict=True):
        np.testing.assert_array_equal(la.centers.toarray(), lb.centers.toarray())
        for ca, cb in zip(la.locals, lb.locals, strict=True):
            np.testing.assert_array_equal(ca.rows, cb.rows)
            np.testing.assert_array_equal(ca.features, cb.features)
            np.testing.assert_array_equal(ca.E, cb.E)
            assert (ca.W != cb.W).nnz == 0 and ca.W.shape == cb.W.shape
    for k in (1, 5, 20):
        ids_a, s_a = a.predict_topk(X, k)
        ids_b, s_b = b.predict_topk(X, k)
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(s_a, s_b)


# ----------------------------------------------------------------------------- round trips
def test_save_load_round_trip(model, saved, data):
    loaded = SLEEC.load(saved)
    assert type(loaded) is SLEEC
    assert_same_model(model, loaded, data[2])


def test_round_trip_with_str_path_and_l1_model(data, tmp_path):
    Xtr, Ytr, Xte = data
    m = SLEEC(
        **{
            **PARAMS,
            "l1_reg": 0.05,
            "metric": "cosine",
            "weighting": "uniform",
            "random_state": None,
        }
    ).fit(Xtr, Ytr)
    path = os.fspath(tmp_path / "l1.npz")
    m.save(path)
    assert_same_model(m, SLEEC.load(path), Xte)


def test_pickle_round_trip(model, data):
    clone = pickle.loads(pickle.dumps(model))
    assert_same_model(model, clone, data[2])


def test_state_to_arrays_and_back(model):
    arrays = model.state_.to_arrays()
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    state = FittedState.from_arrays(arrays)
    assert state.n_features == 100 and state.n_labels == 20
    assert (state.train_labels != model.train_labels_).nnz == 0
    back = state.learners
    for la, lb in zip(model.learners_, back, strict=True):
        np.testing.assert_array_equal(la.centers.toarray(), lb.centers.toarray())
        for ca, cb in zip(la.locals, lb.locals, strict=True):
            np.testing.assert_array_equal(ca.rows, cb.rows)
            np.testing.assert_array_equal(ca.E, cb.E)
            np.testing.assert_array_equal(ca.W.toarray(), cb.W.toarray())


def test_file_layout_has_no_pickle_and_records_version(saved, model):
    payload = read_npz(saved)  # allow_pickle=False: fails if anything was pickled
    assert int(payload["format_version"]) == FORMAT_VERSION == 4
    assert json.loads(str(payload["params"])) == model.get_params()
    assert payload["shape_n_d_l_r"].tolist() == [400, 100, 20, 6]  # n_train, d, L, r
    assert len(str(payload["checksum"])) == 64  # SHA-256 hex
    assert zipfile.ZipFile(saved).testzip() is None
    for info in zipfile.ZipFile(saved).infolist():
        assert info.compress_type == zipfile.ZIP_STORED  # uncompressed, as documented


def test_random_state_object_is_saved_as_none(data, tmp_path):
    Xtr, Ytr, Xte = data
    m = SLEEC(**{**PARAMS, "random_state": np.random.RandomState(0)}).fit(Xtr, Ytr)
    m.save(tmp_path / "rs.npz")
    loaded = SLEEC.load(tmp_path / "rs.npz")
    assert loaded.random_state is None
    np.testing.assert_array_equal(m.predict_topk(Xte, 3)[0], loaded.predict_topk(Xte, 3)[0])


def test_numpy_integer_parameters_can_be_saved(data, tmp_path):
    Xtr, Ytr, Xte = data
    m = SLEEC(**{**PARAMS, "n_components": np.int64(6)}).fit(Xtr, Ytr)
    m.save(tmp_path / "np.npz")
    assert SLEEC.load(tmp_path / "np.npz").n_components == 6


def test_numpy_integer_random_state_survives_round_trip(data, tmp_path):
    Xtr, Ytr, _ = data
    m = SLEEC(**{**PARAMS, "random_state": np.int64(3)}).fit(Xtr, Ytr)
    m.save(tmp_path / "rs.npz")
    assert SLEEC.load(tmp_path / "rs.npz").random_state == 3


# --------------------------------------------------------------------------- damaged files
def test_truncated_file(saved):
    raw = saved.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 10, 100):
        saved.write_bytes(raw[:cut])
        with pytest.raises(
            ModelFormatError, match=r"is not a readable sleec model file \(truncated or corrupted"
        ):
            SLEEC.load(saved)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file"):
        SLEEC.load(path)


def test_one_flipped_byte_in_an_array(saved, model):
    raw = bytearray(saved.read_bytes())
    E = np.ascontiguousarray(model.state_.to_arrays()["E"])
    at = raw.find(E.tobytes())
    assert at > 0
    raw[at + E.nbytes // 2] ^= 0x01
    saved.write_bytes(bytes(raw))
    # The zip CRC or the model checksum catches it, whichever reads first.
    with pytest.raises(ModelFormatError, match=r"corrupted"):
        SLEEC.load(saved)


def test_altered_array_with_valid_zip_fails_checksum(saved):
    payload = read_npz(saved)
    payload["E"] = payload["E"].copy()
    payload["E"].flat[0] += 1.0  # a well-formed file whose content no longer matches
    write_npz(saved, payload)
    with pytest.raises(
        ModelFormatError,
        match=r"failed its checksum: the file was corrupted "
        r"or altered after saving",
    ):
        SLEEC.load(saved)


def test_older_format_version_is_refused(saved):
    payload = read_npz(saved)
    payload["format_version"] = np.array(1, dtype=np.int64)  # checksum left stale
    write_npz(saved, payload)
    # The version check fires before the checksum.
    with pytest.raises(
        ModelFormatError,
        match=r"has format version 1; this sleec reads "
        r"versions 2, 3, 4 \(and writes 4\)\.",
    ):
        SLEEC.load(saved)


def test_future_version_written_consistently(model, tmp_path, monkeypatch):
    # A file written by a "version 5" sleec (its checksum is valid) is refused too.
    monkeypatch.setattr(_persist, "FORMAT_VERSION", 5)
    model.save(tmp_path / "v5.npz")
    monkeypatch.undo()
    with pytest.raises(
        ModelFormatError,
        match=r"'.*v5\.npz' has format version 5; this sleec "
        r"reads versions 2, 3, 4",
    ):
        SLEEC.load(tmp_path / "v5.npz")


def test_missing_entries(saved):
    payload = read_npz(saved)
    del payload["checksum"]
    write_npz(saved, payload)
    with pytest.raises(
        ModelFormatError,
        match=r"is not a sleec model file: missing "
        r"\['checksum'\]",
    ):
        SLEEC.load(saved)


def test_non_zip_garbage(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(
        ModelFormatError,
        match=r"'.*garbage\.npz' is not a readable sleec "
        r"model file",
    ):
        SLEEC.load(path)
    path.write_bytes(b"this is not a model\n" * 10)
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file"):
        SLEEC.load(path)


def test_plain_npy_file_is_refused(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.arange(10))
    with pytest.raises(ModelFormatError, match="not a"):
        SLEEC.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        SLEEC.load(tmp_path / "nope.npz")


def test_valid_checksum_but_inconsistent_content(model, tmp_path):
    # A file that passes every byte-level check but whose arrays do not fit together.
    arrays = model.state_.to_arrays()
    arrays["W_dense"] = arrays["W_dense"][:-3]
    _persist.save_model(tmp_path / "bad.npz", model.get_params(), arrays)
    with pytest.raises(ModelFormatError, match="holds an inconsistent model"):
        SLEEC.load(tmp_path / "bad.npz")


# ------------------------------------------------------------------- no pickle on loading
def _touch_sentinel(path: str) -> None:  # pragma: no cover - must never run
    Path(path).write_text("unpickled")


class Evil:
    """Unpickling this object writes a file: proof that code from the model file ran."""

    def __init__(self, path: Path):
        self.path = os.fspath(path)

    def __reduce__(self):
        return (_touch_sentinel, (self.path,))


def test_object_array_is_refused_not_unpickled(saved, tmp_path):
    sentinel = tmp_path / "unpickled.txt"
    payload = read_npz(saved)
    evil = np.empty(1, dtype=object)
    evil[0] = Evil(sentinel)
    payload["evil"] = evil
    write_npz(saved, payload, allow_pickle=True)
    # Sanity: the entry really is a pickle that would run the sentinel writer.
    with zipfile.ZipFile(saved) as zf:
        assert b"_touch_sentinel" in zf.read("evil.npy")
    with pytest.raises(ModelFormatError, match="not a readable sleec model file"):
        SLEEC.load(saved)
    with pytest.raises(ModelFormatError):
        load_model(saved)
    assert not sentinel.exists()
    # Positive control: loading the same entry with pickles allowed does run it.
    with np.load(saved, allow_pickle=True) as npz:
        npz["evil"]
    assert sentinel.read_text() == "unpickled"


def test_params_are_json_not_pickle(saved):
    payload = read_npz(saved)
    assert payload["params"].dtype.kind == "U"
    assert all(a.dtype != object for a in payload.values())


# ------------------------------------------------------------------------- atomic writes
def test_save_over_existing_file_leaves_no_temp_files(model, data, tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old content")
    model.save(path)
    model.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert_same_model(model, SLEEC.load(path), data[2])


def test_failed_save_keeps_old_file_and_no_temp_files(model, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_persist.np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


# ------------------------------------------------------------- reading while a save lands
SWAPPER = """
import os, sys
files, path = sys.argv[1:3], sys.argv[3]
print("swapping", flush=True)
i = 0
while True:  # what an atomic save does, as fast as it goes: a complete file renamed over
    tmp = f"{path}.{i % 2}.tmp"
    os.link(files[i % 2], tmp)
    os.replace(tmp, path)
    i += 1
"""


def test_load_while_saves_rename_over_the_path_never_fails(model, data, tmp_path):
    # Two complete models of different sizes keep being renamed over one path by another
    # process while this one loads it: every load must see one whole file, never
    # "truncated or corrupted" (the reader once took the size by path, then reopened it).
    import subprocess
    import sys

    small = SLEEC(**{**PARAMS, **NO_STAGE, "n_learners": 1, "n_components": 2}).fit(*data[:2])
    files = [tmp_path / "big.npz", tmp_path / "small.npz"]
    model.save(files[0])
    small.save(files[1])
    assert files[0].stat().st_size > 2 * files[1].stat().st_size
    path = tmp_path / "m.npz"
    model.save(path)
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, *map(str, files), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    failures, sizes = [], []
    try:
        assert swapper.stdout.readline().strip() == "swapping"
        for _ in range(400):
            try:
                _, arrays = load_model(path)
                sizes.append(int(arrays["shape_n_d_l_r"][3]))
            except ModelFormatError as exc:
                failures.append(str(exc))
    finally:
        swapper.kill()
        swapper.wait()
        swapper.stdout.close()
    assert failures == []
    assert set(sizes) == {6, 2}  # both files were read, whole


# ------------------------------------------------------- save writes only what load accepts
def _nan_embedding(state):
    learner = state.learners[0]
    loc = learner.locals[0]
    E = loc.E.copy()
    E[0, 0] = np.nan
    locs = (dataclasses.replace(loc, E=E), *learner.locals[1:])
    return dataclasses.replace(
        state, learners=(Learner(learner.centers, locs),) + state.learners[1:]
    )


def _wide_label(state):
    Y = state.train_labels.tocoo()
    col = Y.col.astype(np.int64)
    col[0] = 2**31  # was wrapped to a negative id in the file
    wide = sp.csr_matrix((Y.data, (Y.row, col)), shape=(Y.shape[0], 2**31 + 1))
    return dataclasses.replace(state, train_labels=wide)


def _rows_out_of_range(state):
    learner = state.learners[0]
    loc = learner.locals[0]
    rows = loc.rows.copy()
    rows[0] = state.train_labels.shape[0] + 5
    locs = (dataclasses.replace(loc, rows=rows), *learner.locals[1:])
    return dataclasses.replace(
        state, learners=(Learner(learner.centers, locs),) + state.learners[1:]
    )


def _named(state):
    names = np.array([f"n{j}" for j in range(state.n_labels)])
    return dataclasses.replace(state, classes=names, label_kind="lists")


def _duplicate_names(state):
    names = _named(state).classes.copy()
    names[1] = names[0]
    return dataclasses.replace(state, classes=names, label_kind="lists")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_nan_embedding, r"array 'E' holds NaN or infinite values"),
        (_wide_label, r"bad training-label matrix"),
        (_rows_out_of_range, r"cluster rows outside the 400 training points"),
        (_duplicate_names, r"bad label names"),
        (lambda s: dataclasses.replace(_named(s), label_kind="tags"), r"bad label kind"),
    ],
    ids=["NaN embedding", "label id 2**31", "rows out of range", "duplicate names", "kind"],
)
def test_save_of_a_model_load_would_refuse_keeps_the_old_file(model, tmp_path, change, match):
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()
    broken = copy.copy(model)
    broken.state_ = change(model.state_)
    with pytest.raises(
        ValueError,
        match=rf"the model cannot be saved: a file holding it would be refused at load \({match}"
        r".*\); nothing was written",
    ):
        broken.save(path)
    assert path.read_bytes() == before  # byte-identical
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    with pytest.raises(ValueError, match="cannot be saved"):
        broken.save(tmp_path / "new.npz")
    assert not (tmp_path / "new.npz").exists()


# --------------------------------------------- damaged, foreign and forged model files
# A model of TINY_SEEDED on make_data() (the conftest fixture tiny_model), saved once.
@pytest.fixture(scope="module")
def model_file(tmp_path_factory, tiny_model) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.npz"
    tiny_model.save(path)
    return path


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.99])
def test_modelfile_truncated(model_file, tmp_path, fraction):
    raw = model_file.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(
        ModelFormatError,
        match=rf"'{re.escape(str(path))}' is not a readable "
        r"sleec model file",
    ):
        SLEEC.load(path)


def _member_data_offset(raw: bytes, name: str) -> tuple[int, int]:
    """(offset, size) of a stored zip member's bytes, from its local header."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        info = zf.getinfo(name)
    n_name, n_extra = struct.unpack_from("<HH", raw, info.header_offset + 26)
    return info.header_offset + 30 + n_name + n_extra, info.file_size


@pytest.mark.parametrize("member", ["E.npy", "W_dense.npy", "train_labels_indices.npy"])
@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_modelfile_flipped_byte_in_the_data(model_file, tmp_path, member, where):
    raw = bytearray(model_file.read_bytes())
    start, size = _member_data_offset(bytes(raw), member)
    raw[start + int(size * where)] ^= 0xFF
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(
        ModelFormatError,
        match=rf"'{re.escape(str(path))}' "
        r"(is not a readable|failed its checksum)",
    ):
        SLEEC.load(path)


@pytest.mark.parametrize(
    "field, offset, value",
    [
        pytest.param("encryption flag", 8, 0x01),
        pytest.param("compression method", 10, 99),
    ],
)
def test_modelfile_damaged_zip_header(model_file, tmp_path, field, offset, value):
    raw = bytearray(model_file.read_bytes())
    raw[central_directory(raw) + offset] ^= value
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file"):
        SLEEC.load(path)


def test_model_overlapping_zip_members_are_refused_before_reading(trained_files, tmp_path):
    # Members whose bytes overlap (nested zip entries) can make a small file read as many
    # times its size; a file sleec wrote has disjoint members in increasing order.
    raw = bytearray((trained_files / "model.npz").read_bytes())
    with zipfile.ZipFile(trained_files / "model.npz") as zf:
        offsets = sorted((i.header_offset, i.file_size) for i in zf.infolist())
    assert all(b[0] >= a[0] + a[1] for a, b in zip(offsets[:-1], offsets[1:], strict=True))
    # Forge an overlap: the second central-directory entry points at the first member.
    eocd = raw.rfind(b"PK\x05\x06")
    cd = int.from_bytes(raw[eocd + 16 : eocd + 20], "little")
    second = raw.find(b"PK\x01\x02", cd + 4)
    raw[second + 42 : second + 46] = raw[cd + 42 : cd + 46]
    forged = tmp_path / "forged.npz"
    forged.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match=r"its members overlap"):
        SLEEC.load(forged)


def test_size_deflated_bomb_in_a_model_file_is_refused_before_inflating(trained_files, tmp_path):
    payload = dict(np.load(trained_files / "model.npz", allow_pickle=False))
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in payload.items():
            if key == "E":
                continue
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value)
        with zf.open("E.npy", "w", force_zip64=True) as fh:  # 400 MB of zeros, ~400 KB zipped
            np.lib.format.write_array(fh, np.zeros((100_000_000,), np.float32))
    start = peak_rss_mb()
    with pytest.raises(
        ModelFormatError,
        match=r"member\(s\) declare \d+ bytes in a \d+-byte file",
    ):
        SLEEC.load(bomb)
    assert peak_rss_mb() - start < 100


def test_modelfile_altered_params_old_checksum(model_file, tmp_path):
    payload = read_npz(model_file)
    params = json.loads(str(payload["params"]))
    params["n_neighbors"] = 7
    payload["params"] = np.array(json.dumps(params, sort_keys=True))
    path = tmp_path / "altered.npz"
    write_npz(path, payload)
    with pytest.raises(
        ModelFormatError,
        match=r"failed its checksum: the file was corrupted or "
        r"altered after saving",
    ):
        SLEEC.load(path)


@pytest.mark.parametrize(
    "version, match",
    [
        (np.array(5, np.int64), r"has format version 5; this sleec reads versions 2, 3, 4"),
        (np.array(1, np.int64), r"has format version 1; this sleec reads versions 2, 3, 4"),
        (np.array(-1, np.int64), r"has format version -1; this sleec reads versions 2, 3, 4"),
        (np.array("one"), r"has an unreadable format version"),
    ],
)
def test_modelfile_unknown_format_version(model_file, tmp_path, version, match):
    path = tmp_path / "future.npz"
    write_npz(path, resign({**read_npz(model_file), "format_version": version}))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


def test_modelfile_foreign_npz_and_npy(tmp_path):
    path = tmp_path / "random.npz"
    write_npz(path, {"a": np.random.default_rng(0).random(3), "b": np.arange(4)})
    with pytest.raises(
        ModelFormatError,
        match=r"is not a sleec model file: missing "
        r"\['format_version', 'params', 'checksum'\]",
    ):
        SLEEC.load(path)
    with open(path, "wb") as fh:
        np.save(fh, np.arange(3))
    with pytest.raises(
        ModelFormatError, match=r"is not a readable sleec model file: not an \.npz \(zip\) archive"
    ):
        SLEEC.load(path)


def test_modelfile_plain_text(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file") as info:
        SLEEC.load(path)
    assert "pickle" not in str(info.value)


def test_modelfile_empty_and_missing(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file"):
        SLEEC.load(path)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        SLEEC.load(tmp_path / "nope.npz")


def test_modelfile_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        SLEEC.load(tmp_path)


class _Evil:
    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("entry", ["extra", "params", "format_version"])
def test_modelfile_object_array_is_refused_unpickled(model_file, tmp_path, entry):
    sentinel = tmp_path / "unpickled"
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(sentinel)
    path = tmp_path / "evil.npz"
    write_npz(path, {**read_npz(model_file), entry: evil}, allow_pickle=True)
    with zipfile.ZipFile(path) as zf:
        assert b"mkdir" in zf.read(f"{entry}.npy")  # really a pickle
    with pytest.raises(
        ModelFormatError,
        match=r"not a readable sleec model file .*Object "
        r"arrays cannot be loaded",
    ):
        SLEEC.load(path)
    assert not sentinel.exists()


# -------------------------------------------------- a valid checksum over bad contents
def test_modelfile_params_not_json(model_file, tmp_path):
    path = tmp_path / "notjson.npz"
    write_npz(path, resign({**read_npz(model_file), "params": np.array("not json")}))
    with pytest.raises(ModelFormatError, match=re.escape(str(path))):
        SLEEC.load(path)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda p: {
                "params": np.array(json.dumps({**json.loads(str(p["params"])), "n_neighbors": 0}))
            },
            r"holds an inconsistent model: The 'n_neighbors' parameter of SLEEC must be an int",
        ),
        (
            lambda p: {
                "params": np.array(json.dumps({**json.loads(str(p["params"])), "bogus": 1}))
            },
            r"holds an inconsistent model: .*unexpected keyword argument 'bogus'",
        ),
        (
            lambda p: {"params": np.array("[1, 2]")},
            r"holds unreadable parameters: expected a JSON object",
        ),
    ],
    ids=["bad parameter value", "unknown parameter", "params not an object"],
)
def test_modelfile_valid_checksum_bad_params(model_file, tmp_path, change, match):
    payload = read_npz(model_file)
    path = tmp_path / "bad.npz"
    write_npz(path, resign({**payload, **change(payload)}))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param(
            lambda p: {"rows": p["rows"].astype(np.int64) + 1000},
            "cluster rows outside",
            id="rows beyond n_train",
        ),
        pytest.param(
            lambda p: {"centers_indices": p["centers_indices"].astype(np.int64) + 1000},
            "bad cluster centres",
            id="centre features beyond d",
        ),
        pytest.param(
            lambda p: {"features": p["features"][::-1].copy()},
            "not sorted",
            id="regressor features unsorted",
        ),
        pytest.param(
            lambda p: {"W_dense": p["W_dense"][:, :-1].copy()},
            "bad regressor matrix",
            id="regressor columns fewer than r",
        ),
        pytest.param(
            lambda p: {
                "E": np.where(
                    np.arange(p["E"].size).reshape(p["E"].shape) == 3, np.nan, p["E"]
                ).astype(np.float32),
                "E_grid": None,  # the float layout of older files
            },
            "array 'E' holds NaN or infinite values",
            id="NaN embedding",
        ),
        pytest.param(
            lambda p: {"E": p["E"].astype(np.float32)},
            "array 'E' has dtype float32; expected uint8",
            id="float embeddings beside a grid",
        ),
        pytest.param(
            lambda p: {"E": p["E"].astype(np.uint16)},
            "array 'E' has dtype uint16; expected uint8",
            id="wide embedding codes",
        ),
        pytest.param(
            lambda p: {"E_grid": np.where(p["E_grid"] > 0, np.nan, p["E_grid"])},
            "embedding grid 'E_grid' without finite positive steps",
            id="NaN embedding grid",
        ),
        pytest.param(
            lambda p: {"E_grid": np.where(p["E_grid"] > 0, np.float32(3e38), p["E_grid"])},
            "embedding grid 'E_grid' without finite positive steps",
            id="embedding steps that decode to infinity",
        ),
        pytest.param(
            lambda p: {"E_grid": p["E_grid"][:, :1]},
            r"embedding grid 'E_grid' not float32 of shape \(\d+, 2, \d+\)",
            id="embedding grid without offsets",
        ),
        pytest.param(
            lambda p: {"W_dense": np.full(p["W_dense"].shape, np.inf), "W_scale": None},
            "array 'W_dense' holds NaN or infinite values",
            id="infinite weights",
        ),
        pytest.param(
            lambda p: {"W_scale": np.zeros_like(p["W_scale"])},
            "regressor steps 'W_scale' not finite and positive",
            id="zero regressor steps",
        ),
        pytest.param(
            lambda p: {"W_scale": np.full_like(p["W_scale"], 3e38)},
            "regressor steps 'W_scale' not finite and positive",
            id="regressor steps that decode to infinity",
        ),
        pytest.param(
            lambda p: {"W_dense": np.full_like(p["W_dense"], -128)},
            "regressor codes outside -127..127",
            id="regressor code off the grid",
        ),
        pytest.param(
            lambda p: {"W_scale": p["W_scale"][:-1]},
            r"regressor steps 'W_scale' not float32 of shape",
            id="regressor steps of the wrong length",
        ),
        pytest.param(
            lambda p: {"centers_data": p["centers_data"] * np.nan},
            "array 'centers_data' holds NaN",
            id="NaN centres",
        ),
        pytest.param(
            lambda p: {"rows": p["rows"].astype(np.float64)},
            "array 'rows' has dtype float64; expected integers",
            id="float row ids",
        ),
        pytest.param(
            lambda p: {"shape_n_d_l_r": p["shape_n_d_l_r"][:3]},
            "bad shape record",
            id="short shape record",
        ),
    ],
)
def test_modelfile_valid_checksum_inconsistent_arrays(model_file, tmp_path, change, match):
    payload = read_npz(model_file)
    path = tmp_path / "bad.npz"
    payload = {**payload, **change(payload)}  # None: the member is left out
    write_npz(path, resign({k: v for k, v in payload.items() if v is not None}))
    with pytest.raises(ModelFormatError, match=f"holds an inconsistent model: .*{match}"):
        SLEEC.load(path)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("format_version", np.array(1.5), r"unreadable format version \(1\.5 of dtype float64"),
        ("format_version", np.array(True), r"unreadable format version \(True of dtype bool"),
        ("format_version", np.array([2]), r"unreadable format version \(\[2\] of dtype int64"),
        (
            "shape_n_d_l_r",
            np.array([60.0, 12.5, 5, 4]),
            r"array 'shape_n_d_l_r' has dtype "
            r"float64; expected integers",
        ),
        ("E_grid", None, r"embedding grid 'E_grid' without finite positive steps"),
    ],
    ids=["version 1.5", "version True", "version [2]", "fractional sizes", "inf grid"],
)
def test_model_contents_with_a_valid_checksum(trained_files, tmp_path, key, value, match):
    payload = dict(np.load(trained_files / "model.npz", allow_pickle=False))
    if value is None:
        value = payload[key].copy()
        value[0, 0, 0] = np.inf
    payload[key] = value
    path = tmp_path / "m.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **resign(payload))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


# ------------------------------------------------------------ the regressors' two layouts
@pytest.fixture(scope="module")
def sparse_model(tiny_data):
    """A model whose regressors keep 40% of their weights: stored as CSR, not dense."""
    X, Y = tiny_data
    return SLEEC(**TINY_SEEDED, weight_threshold=0.6).fit(X, Y)


@pytest.mark.parametrize("which", ["tiny_model", "sparse_model"])
def test_a_version_3_file_with_float_values_loads_and_predicts_the_same(
    request, which, tiny_data, tmp_path, monkeypatch
):
    # Version 3 stored E and W as float values (no grids): such a file reads back as the
    # same model, and saving it again keeps its float layout.
    model = request.getfixturevalue(which)
    model.save(tmp_path / "m.npz")
    params, arrays = load_model(tmp_path / "m.npz")
    back = FittedState.from_arrays(arrays)
    locs = [loc for lr in back.learners for loc in lr.locals]
    arrays["E"] = np.vstack([loc.E for loc in locs])
    name = "W_dense" if "W_dense" in arrays else "W_data"
    W = sp.vstack([loc.W for loc in locs], format="csr")
    arrays[name] = W.toarray() if name == "W_dense" else W.data
    del arrays["E_grid"], arrays["W_scale"]
    monkeypatch.setattr(_persist, "FORMAT_VERSION", 3)
    _persist.save_model(tmp_path / "v3.npz", params, arrays)
    monkeypatch.undo()
    v3 = SLEEC.load(tmp_path / "v3.npz")
    assert all(loc.E_grid is None for lr in v3.state_.learners for loc in lr.locals)
    X, _ = tiny_data
    for got, expected in zip(v3.predict_topk(X), model.predict_topk(X), strict=True):
        np.testing.assert_array_equal(got, expected)
    v3.save(tmp_path / "again.npz")
    again = read_npz(tmp_path / "again.npz")
    assert "E_grid" not in again and again["E"].dtype == np.float32
    for got, expected in zip(
        SLEEC.load(tmp_path / "again.npz").predict_topk(X), model.predict_topk(X), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("which", ["tiny_model", "sparse_model"])
def test_regressor_layout_is_the_smaller_and_round_trips(request, which, tiny_data, tmp_path):
    model = request.getfixturevalue(which)
    arrays = model.state_.to_arrays()
    dense = which == "tiny_model"
    assert ("W_dense" in arrays) == dense and ("W_data" in arrays) == (not dense)
    weights = arrays["W_dense"] if dense else arrays["W_data"]
    assert weights.dtype == np.int8 and arrays["E"].dtype == np.uint8  # 1 byte a value
    assert arrays["W_scale"].shape == (arrays["features"].size,)
    model.save(tmp_path / "m.npz")
    back = SLEEC.load(tmp_path / "m.npz")
    for ours, theirs in zip(model.state_.learners, back.state_.learners, strict=True):
        for a, b in zip(ours.locals, theirs.locals, strict=True):
            assert b.W.dtype == b.E.dtype == np.float32
            np.testing.assert_array_equal(a.W.toarray(), b.W.toarray())
            np.testing.assert_array_equal(a.E, b.E)
    X, _ = tiny_data
    for got, expected in zip(back.predict_topk(X), model.predict_topk(X), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_values_beyond_float16_are_kept_and_stored_as_float32(tiny_model):
    assert half_precision(np.array([0.1], np.float32))[0] == np.float32(np.float16(0.1))
    wide = np.array([1e5, 0.1], np.float32)  # 1e5 > float16's largest, 65504
    np.testing.assert_array_equal(half_precision(wide), wide)
    state = tiny_model.state_
    learners = tuple(
        Learner(lr.centers, tuple(dataclasses.replace(loc, E=loc.E * 1e5) for loc in lr.locals))
        for lr in state.learners
    )
    arrays = dataclasses.replace(state, learners=learners).to_arrays()
    assert arrays["E"].dtype == np.float32
    back = FittedState.from_arrays(arrays)
    for lr, got in zip(learners, back.learners, strict=True):
        for a, b in zip(lr.locals, got.locals, strict=True):
            np.testing.assert_array_equal(a.E, b.E)


def test_ids_are_stored_in_the_narrowest_type_and_read_back_as_int32(tiny_model, tmp_path):
    arrays = tiny_model.state_.to_arrays()  # 30 points, 12 features, 6 labels: all < 256
    for name in ("train_labels_indices", "centers_indices", "rows", "features"):
        assert arrays[name].dtype == np.uint8, name
    ids = {"rows": np.array([0, 300]), "features": np.array([70_000]), "W_indices": np.array([-1])}
    narrow = _state._narrow_ids(dict(ids))
    assert narrow["rows"].dtype == np.uint16 and narrow["features"].dtype == np.int32
    assert narrow["W_indices"].dtype == ids["W_indices"].dtype  # a negative id: left to the checks
    back = FittedState.from_arrays(arrays)
    assert back.learners[0].locals[0].rows.dtype == np.int32
    tiny_model.save(tmp_path / "m.npz")
    payload = read_npz(tmp_path / "m.npz")
    payload["rows"] = payload["rows"].astype(np.uint32)  # only uint8 / uint16 are widened
    write_npz(tmp_path / "bad.npz", resign(payload))
    with pytest.raises(ModelFormatError, match="array 'rows' has dtype uint32; expected integers"):
        SLEEC.load(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param(
            lambda p: {"W_indices": p["W_indices"].astype(np.int64) + 1000},
            "bad regressor matrix",
            id="regressor columns beyond r",
        ),
        pytest.param(
            lambda p: {"W_data": np.full(p["W_data"].shape, np.inf), "W_scale": None},
            "array 'W_data' holds NaN or infinite values",
            id="infinite weights",
        ),
        pytest.param(
            lambda p: {"W_dense": np.zeros((p["features"].size, 4), np.float32)},
            "regressors are stored in neither or in both layouts",
            id="both layouts",
        ),
        pytest.param(
            lambda p: {"W_data": None, "W_indices": None, "W_indptr": None},
            "regressors are stored in neither or in both layouts",
            id="no regressors",
        ),
    ],
)
def test_csr_regressors_checked_at_load(sparse_model, tmp_path, change, match):
    sparse_model.save(tmp_path / "m.npz")
    payload = {**read_npz(tmp_path / "m.npz"), **change(read_npz(tmp_path / "m.npz"))}
    path = tmp_path / "bad.npz"
    write_npz(path, resign({k: v for k, v in payload.items() if v is not None}))
    with pytest.raises(ModelFormatError, match=f"holds an inconsistent model: .*{match}"):
        SLEEC.load(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: {"classes": np.array([0, 0, 2, 3, 4])}, "bad label names"),
        (
            lambda p: {
                "train_labels_indices": np.zeros(0, np.int32),
                "train_labels_indptr": np.zeros(61, np.int64),
            },
            "no training labels",
        ),
        (lambda p: {"rows_offsets": np.array([0, 0, p["rows"].size])}, "bad row offsets"),
        (
            lambda p: {"text_vectorizer": np.array("[" * 100_000 + "]" * 100_000)},
            "unreadable text vectoriser",
        ),
    ],
    ids=["duplicate names", "no labels", "an empty cluster", "nested vectoriser JSON"],
)
def test_model_more_contents_with_a_valid_checksum(trained_files, tmp_path, change, match):
    payload = dict(np.load(trained_files / "model.npz", allow_pickle=False))
    if "classes" in change(payload):
        payload["label_kind"] = np.array("lists")
    if "rows_offsets" in change(payload):
        payload["learner_n_clusters"] = np.array([2])
        payload["centers_indptr"] = np.concatenate(
            [payload["centers_indptr"], payload["centers_indptr"][-1:]]
        )
        payload["features_offsets"] = np.concatenate(
            [payload["features_offsets"][:1], payload["features_offsets"]]
        )
    payload.update(change(payload))
    path = tmp_path / "m.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **resign(payload))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


def test_modelfile_save_into_missing_directory(tiny_model, tmp_path):
    target = tmp_path / "nodir" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        tiny_model.save(target)
    assert info.value.filename == str(target)
