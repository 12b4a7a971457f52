"""sleec as an Annif backend, run by Annif itself: its command line (click's CliRunner on
``annif.cli``) and its REST app (connexion's test client), on Annif's archaeology corpus.

The Annif tests are skipped with their reason when Annif is not installed (``pip install
annif``) or the corpus is not in ``../shared/data/annif-archaeology``; the tests
of :func:`sleec.params.params_from_strings` run everywhere. The default run trains small
models on 800 documents; the ``slow`` tests train the library defaults on the whole 80/20
split (``python -m pytest -m slow tests/test_annif.py``).

NLTK's ``punkt_tab`` cannot be downloaded on machines without network: when it is not
installed, a folder with its four files empty stands in (words are still tokenised).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from sleec.params import PARAMS, params_from_strings

CORPUS = SHARED_DATA / "annif-archaeology"
VOCAB = "yso-arch"
PUNKT_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")
SMALL = {  # a small, fast model for the default run
    "n_learners": "2",
    "n_components": "20",
    "n_graph_neighbors": "20",
    "n_neighbors": "10",
    "svp_max_iter": "2",
    "random_state": "0",
}
PROJECTS = {
    "sleec-small": {"limit": "20", **SMALL},
    "sleec-defaults": {},
    "sleec-bad": {"n_neighbors": "many"},
    "sleec-untrained": {},
}
URI_LINE = re.compile(r"^<(http[^>]+)>\t.*\t([0-9.]+)$")


# ---------------------------------------------------------------- params_from_strings
def test_params_from_strings_converts_each_kind():
    got = params_from_strings(
        {
            "n_neighbors": " 50 ",
            "n_clusters": "AUTO",
            "normalize": "off",
            "metric": "Cosine",
            "random_state": "none",
            "l2_reg": "0.5",
            "n_jobs": "-1",
            "svp_tol": "1e-4",
            "ranker_mix": 0.25,  # not a string: only checked
        }
    )
    assert got == {
        "n_neighbors": 50,
        "n_clusters": "auto",
        "normalize": False,
        "metric": "cosine",
        "random_state": None,
        "l2_reg": 0.5,
        "n_jobs": -1,
        "svp_tol": 1e-4,
        "ranker_mix": 0.25,
    }
    assert type(got["n_neighbors"]) is int and type(got["l2_reg"]) is float


def test_params_from_strings_takes_every_default_written_as_text():
    text = {p.name: str(p.default) for p in PARAMS}
    got = params_from_strings(text)
    assert got == {p.name: p.default for p in PARAMS}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"n_neighbors": "many"}, r"'n_neighbors' parameter of proj must be an int .* Got 'many'"),
        ({"n_neighbors": "2.5"}, r"'n_neighbors' parameter of proj must be an int"),
        ({"n_neighbors": "0"}, r"'n_neighbors' parameter of proj must be an int in the range \[1"),
        ({"metric": "manhattan"}, r"'metric' parameter of proj must be one of \['euclidean'"),
        ({"normalize": "maybe"}, r"'normalize' parameter of proj must be one of \[True, False\]"),
        ({"ranker_mix": "nan"}, r"'ranker_mix' parameter of proj must be a float"),
        ({"n_jobs": "0"}, r"'n_jobs' parameter of proj must be None or an int .* other than 0"),
        ({"n_neigbors": "5"}, r"Unknown parameter\(s\) of proj: 'n_neigbors' \(did you mean "),
    ],
)
def test_params_from_strings_names_the_bad_parameter(values, expected):
    with pytest.raises(ValueError, match=expected):
        params_from_strings(values, owner="proj")


# ------------------------------------------------------------------------ Annif set-up
@pytest.fixture(scope="module")
def annif():
    return pytest.importorskip("annif", reason="Annif is not installed (pip install annif)")


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not (CORPUS / "documents.tsv").is_file():
        pytest.skip(f"Annif's archaeology corpus not found at {CORPUS}")
    return CORPUS


class Site:
    """An Annif installation in a temporary folder: projects.cfg, data directory, the
    80/20 split and a small subset of it; ``run`` is the ``annif`` command."""

    def __init__(self, root: Path, corpus: Path):
        self.root, self.corpus = root, corpus
        lines = [ln for ln in (corpus / "documents.tsv").read_text("utf-8").splitlines() if ln]
        random.Random(0).shuffle(lines)
        cut = int(0.8 * len(lines))
        self.train = self._write("train.tsv", lines[:cut])
        self.test = self._write("test.tsv", lines[cut:])
        self.small_train = self._write("small-train.tsv", lines[:800])
        self.small_test = self._write("small-test.tsv", lines[cut : cut + 200])
        sections = []
        for pid, keys in PROJECTS.items():
            body = "\n".join(f"{k}={v}" for k, v in keys.items())
            sections.append(
                f"[{pid}]\nname={pid}\nlanguage=fi\nbackend=sleec\n"
                f"analyzer=snowball(finnish)\nvocab={VOCAB}\n{body}\n"
            )
        (root / "projects.cfg").write_text("\n".join(sections), encoding="utf-8")
        settings = root / "settings.py"
        settings.write_text(
            f"PROJECTS_CONFIG_PATH = {str(root / 'projects.cfg')!r}\n"
            f"DATADIR = {str(root / 'data')!r}\n",
            encoding="utf-8",
        )
        # Annif reads ANNIF_PROJECTS / ANNIF_DATADIR when annif.default_config is first
        # imported; ANNIF_SETTINGS is read each time an app is made.
        self.env = {"ANNIF_CONFIG": "sleec.annif.Config", "ANNIF_SETTINGS": str(settings)}

    def _write(self, name: str, lines: list[str]) -> Path:
        path = self.root / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def run(self, *args: str, input: str | None = None, ok: bool = True):
        import annif.cli
        import annif.registry
        from click.testing import CliRunner

        # Annif keys its registries by id(): a new app may meet a dead one's projects.
        annif.registry.AnnifRegistry._projects.clear()
        annif.registry.AnnifRegistry._vocabs.clear()
        result = CliRunner().invoke(annif.cli.cli, list(args), input=input, env=self.env)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    def model_path(self, pid: str) -> Path:
        return self.root / "data" / "projects" / pid / "sleec-model.npz"


def _punkt_tab(root: Path) -> str | None:
    """A stand-in NLTK_DATA folder when punkt_tab is not installed (None when it is)."""
    import nltk.data

    try:
        nltk.data.find("tokenizers/punkt_tab")
        return None
    except LookupError:
        english = root / "nltk" / "tokenizers" / "punkt_tab" / "english"
        english.mkdir(parents=True)
        for name in PUNKT_FILES:
            (english / name).touch()
        nltk.data.path.insert(0, str(root / "nltk"))
        return str(root / "nltk")


@pytest.fixture(scope="module")
def site(annif, corpus, tmp_path_factory) -> Site:
    root = tmp_path_factory.mktemp("annif")
    nltk_data = _punkt_tab(root)
    with pytest.MonkeyPatch.context() as mp:
        if nltk_data:
            mp.setenv("NLTK_DATA", nltk_data)
        s = Site(root, corpus)
        for key, value in s.env.items():
            mp.setenv(key, value)  # for the in-process app of the REST test
        s.run("load-vocab", VOCAB, str(corpus / "yso-archaeology.ttl"))
        yield s


@pytest.fixture(scope="module")
def small(site) -> Site:
    """``sleec-small`` trained on 800 documents."""
    site.run("train", "sleec-small", str(site.small_train))
    return site


def _suggestions(output: str) -> list[tuple[str, float]]:
    return [(m[1], float(m[2])) for m in map(URI_LINE.match, output.splitlines()) if m]


# --------------------------------------------------------------------- registration
def test_config_registers_the_backend(annif):
    import annif.backend
    import annif.default_config

    import sleec.annif

    assert issubclass(sleec.annif.Config, annif.default_config.Config)
    assert sleec.annif.ProductionConfig.INITIALIZE_PROJECTS is True
    backend = annif.backend.get_backend("sleec")
    assert backend is sleec.annif.SleecBackend and backend.name == "sleec"


def test_registration_does_not_import_the_backend(annif):
    code = (
        "import sys, sleec.annif, annif.backend; "
        "assert 'sleec' in annif.backend._backend_fns; "
        "print(sorted(m for m in ('sleec._annif_backend', 'optuna', 'annif.backend.backend') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registration_does_not_import_numba(annif):
    code = "import sys, sleec.annif; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -------------------------------------------------------------------- command line
def test_train_writes_one_sleec_model_file(small):
    from sleec import SLEEC
    from sleec.text import load_pipeline

    datadir = small.model_path("sleec-small").parent
    assert sorted(p.name for p in datadir.iterdir()) == ["sleec-model.npz", "sleec-train.npz"]
    pipe = load_pipeline(small.model_path("sleec-small"))
    model = pipe[-1]
    assert isinstance(model, SLEEC) and model.n_learners == 2 and model.n_components == 20
    assert model.n_jobs is None  # the fit's --jobs is not stored
    assert pipe[0].token_pattern == r"(?u)\S+"  # the analyzer's tokens
    listing = small.run("list-projects").output
    assert re.search(r"sleec-small\s+sleec-small\s+yso-arch\s+fi\s+True", listing)


def test_suggest_from_stdin(small):
    out = small.run("suggest", "sleec-small", "--limit", "5", input="Arkeologiset kaivaukset")
    hits = _suggestions(out.output)
    assert 1 <= len(hits) <= 5
    scores = [s for _, s in hits]
    assert all(0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    assert all(uri.startswith("http://www.yso.fi/onto/yso/") for uri, _ in hits)


def test_a_document_without_known_words_gets_no_suggestion(small):
    assert _suggestions(small.run("suggest", "sleec-small", input="12345 !!! qqqq").output) == []


def test_eval(small):
    out = small.run("eval", "sleec-small", "--limit", "10", str(small.small_test)).output
    metrics = dict(re.findall(r"^(.+?):\s+([0-9.]+)$", out, flags=re.M))
    assert int(metrics["Documents evaluated"]) == 200
    assert float(metrics["NDCG"]) > 0.25  # 800 training titles, a small model


def test_eval_in_parallel_processes(small):
    """``annif eval --jobs 2`` forks worker processes. It runs as its own ``annif`` process,
    as users run it: this test process has run numba's parallel kernels (training), and
    with numba's OpenMP threading layer a forked child then aborts ("fork() called from a
    process already using GNU OpenMP"), which leaves Annif's pool waiting forever."""
    annif_cmd = Path(sys.executable).with_name("annif")
    if not annif_cmd.exists():
        pytest.skip(f"no annif command beside {sys.executable}")
    serial = small.run("eval", "sleec-small", "-m", "NDCG", str(small.small_test)).output
    parallel = subprocess.run(
        [str(annif_cmd), "eval", "sleec-small", "-m", "NDCG", "--jobs", "2", str(small.small_test)],
        env={**os.environ, **small.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert parallel.stdout == serial


def test_backend_param_changes_prediction_without_retraining(small):
    doc = "Oulunlinnan salakäytävä ja keskiaikaiset linnat"
    base = small.run("suggest", "sleec-small", "--limit", "20", input=doc).output
    fewer = small.run(
        "suggest", "sleec-small", "--limit", "20", "-b", "sleec.n_neighbors=1",
        "-b", "sleec.shortlist_votes=0", "-b", "sleec.shortlist_centroids=0", input=doc,
    ).output  # fmt: skip
    assert _suggestions(fewer) and _suggestions(fewer) != _suggestions(base)


def test_bad_parameter_stops_with_its_name(small):
    out = small.run("train", "sleec-bad", str(small.small_train), ok=False)
    assert out.exit_code != 0
    assert (
        "The 'n_neighbors' parameter of Annif project 'sleec-bad' must be an int in the range "
        "[1, 2147483647]. Got 'many' instead." in out.output
    )
    bad = small.run("suggest", "sleec-small", "-b", "sleec.ranker_mix=2", input="linna", ok=False)
    assert "'ranker_mix' parameter of Annif project 'sleec-small' must be a float" in bad.output


def test_unknown_key_is_a_warning_with_a_hint(small):
    out = small.run("suggest", "sleec-small", "-b", "sleec.n_neigbors=3", input="linna").output
    assert "ignoring parameter 'n_neigbors'" in out and "did you mean 'n_neighbors'?" in out


def test_untrained_project_says_so(small):
    out = small.run("suggest", "sleec-untrained", input="linna", ok=False)
    assert out.exit_code != 0 and "not trained" in out.output


def test_train_cached_refits_without_the_documents(small):
    from sleec import SLEEC

    before = SLEEC.load(small.model_path("sleec-small"))
    small.run("train", "sleec-small", "--cached", "-b", "sleec.n_learners=1")
    after = SLEEC.load(small.model_path("sleec-small"))
    assert len(after.learners_) == 1 and len(before.learners_) == 2
    assert after.n_features_in_ == before.n_features_in_
    assert _suggestions(small.run("suggest", "sleec-small", input="kaivaukset").output)
    small.run("train", "sleec-small", str(small.small_train))  # back to the fixture's model
    out = small.run("train", "sleec-untrained", "--cached", ok=False)
    assert out.exit_code != 0 and "train without --cached first" in out.output


def test_hyperopt_recommends_prediction_parameters(small):
    out = small.run("hyperopt", "sleec-small", "--trials", "2", str(small.small_test)).output
    block = out.split("---")[1]
    assert re.search(r"^n_neighbors=\d+$", block, flags=re.M)
    assert re.search(r"^ranker_mix=0\.\d{4}$", block, flags=re.M)
    assert re.search(r"Got best NDCG score 0\.\d{4}", out)


# ------------------------------------------------------------------------------ REST
def test_rest_suggest_route(small):
    import annif

    app = annif.create_app(config_name="sleec.annif.Config")
    client = app.test_client()
    response = client.post(
        "/v1/projects/sleec-small/suggest", data={"text": "Arkeologiset kaivaukset", "limit": 3}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert 1 <= len(results) <= 3
    assert all(r["uri"].startswith("http://www.yso.fi/") and 0 < r["score"] <= 1 for r in results)
    assert all(r["label"] for r in results)


# ------------------------------------------------------------------------------ slow
@pytest.mark.slow
def test_archaeology_library_defaults(site):
    """The whole 80/20 split with sleec's library defaults, scored by ``annif eval``."""
    site.run("train", "sleec-defaults", str(site.train))
    floors = {site.test: 0.45, site.corpus / "fulltext": 0.25}
    for path, floor in floors.items():
        out = site.run("eval", "sleec-defaults", "--limit", "10", str(path)).output
        metrics = dict(re.findall(r"^(.+?):\s+([0-9.]+)$", out, flags=re.M))
        assert float(metrics["NDCG"]) > floor, (path, metrics)
    text = (site.corpus / "fulltext" / "385445.txt").read_text(encoding="utf-8")
    hits = _suggestions(site.run("suggest", "sleec-defaults", "--limit", "10", input=text).output)
    assert len(hits) == 10
