"""python -m ferkit.web: the folder it builds, the server's types, and bad input as one line
and exit 2 with nothing written."""

import json
import shutil
import socket
import urllib.request

import numpy as np
import pytest
from conftest import ROOT, needs_deploy

from ferkit.deploy import framing
from ferkit.web import site
from ferkit.web.__main__ import main, serve

MODEL = ROOT / "models" / "small.keras"


def fails(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    return err


def test_a_missing_model_or_another_kind_of_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "site"
    assert "no such file" in fails(
        ["--model", str(tmp_path / "none.keras"), "--out", str(out), "--no-serve"], capsys
    )
    (tmp_path / "m.h5").write_bytes(b"x")
    assert ".keras or .onnx" in fails(
        ["--model", str(tmp_path / "m.h5"), "--out", str(out), "--no-serve"], capsys
    )
    assert not out.exists()


def test_a_folder_that_is_not_a_page_is_left_alone(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    argv = ["--model", str(MODEL), "--out", str(mine), "--no-serve"]
    assert "is not a page folder" in fails(argv, capsys)
    assert (mine / "notes.txt").read_text() == "keep"


def test_a_corrupt_model_leaves_nothing_written(tmp_path, capsys, monkeypatch):
    # The runtime's files are only copied before the model is read: stand-ins will do
    # where `npm ci` has not run.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in site.RUNTIME_FILES:
        (runtime / name).write_text("")
    monkeypatch.setattr(site, "RUNTIME", runtime)
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copyfile(MODEL.with_suffix(".json"), folder / "bad.json")
    (folder / "bad.keras").write_bytes(b"not a model")
    argv = ["--model", str(folder / "bad.keras"), "--out", str(folder / "site"), "--no-serve"]
    assert "not a readable model" in fails(argv, capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["bad.json", "bad.keras"]


def test_without_onnx_runtime_web_it_says_to_run_npm_ci(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(site, "RUNTIME", tmp_path / "node_modules" / "onnxruntime-web" / "dist")
    assert "npm ci" in fails(
        ["--model", str(MODEL), "--out", str(tmp_path / "site"), "--no-serve"], capsys
    )


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(Exception, match="cannot listen on 127.0.0.1"):
            serve(tmp_path, taken.getsockname()[1])


@needs_deploy
@pytest.mark.slow
@pytest.mark.skipif(
    not site.RUNTIME.exists(), reason=f"ONNX Runtime Web is absent: run `npm ci` in {site.PAGE}"
)
def test_the_folder_has_the_page_both_nets_and_the_card_and_serves_with_browser_types(
    tmp_path, capsys
):
    out = tmp_path / "site"
    main(["--model", str(MODEL), "--out", str(out), "--no-serve"])
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    nets = {"model.onnx", "blazeface.onnx", "framer.onnx", "model.json"}
    assert set(site.PAGE_FILES) | nets <= names
    assert {f"ort/{n}" for n in site.RUNTIME_FILES} <= names
    card = json.loads((out / "model.json").read_text())
    record = json.loads(MODEL.with_suffix(".json").read_text())
    assert (
        card["classes"] == record["class_names"] and card["val_accuracy"] == record["val_accuracy"]
    )
    assert card["temperature"] == record["calibration"]["temperature"]
    assert card["detector"]["margin"] == 0.1
    assert card["detector"]["framer"] == {"inner": framing.INNER, "input": framing.INPUT}
    # The page's framer, converted to ONNX, frames as the shipped one does on LiteRT.
    import onnxruntime

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, framing.INPUT, framing.INPUT, 1)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(out / "framer.onnx"))
    page = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.allclose(page, framing.Framer().predict(x), atol=1e-4)
    # Readable by a web server that runs as another user.
    assert all(p.stat().st_mode & 0o004 for p in out.rglob("*"))

    import functools
    import http.server
    import threading

    from ferkit.web.__main__ import Handler

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(out))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/"
        types = [("", "text/html"), ("app.js", "text/javascript")]
        types += [("ort/ort.wasm.min.mjs", "text/javascript")]
        types += [("ort/ort-wasm-simd-threaded.wasm", "application/wasm")]
        for path, kind in types:
            with urllib.request.urlopen(base + path) as response:
                assert response.headers["Content-Type"].startswith(kind), path
    finally:
        server.shutdown()
