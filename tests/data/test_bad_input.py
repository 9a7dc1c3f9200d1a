"""Every kind of bad input: one line naming the file, the line and the problem."""

import gzip
import subprocess
import sys

import pytest
from conftest import ROOT, write_homework, write_kaggle

from ferkit.data import load_data
from ferkit.deploy.predict_cli import predict_main
from ferkit.errors import InputError
from ferkit.train.cli import train_main


def replace_line(path, lineno, edit):
    lines = path.read_text().split("\n")
    lines[lineno - 1] = edit(lines[lineno - 1])
    path.write_text("\n".join(lines))


def set_pixel(value, index=4):
    def edit(line):
        key, pixels = line.split(",")
        values = pixels.split(" ")
        values[index] = value
        return key + "," + " ".join(values)

    return edit


TRAIN_CASES = {
    "pixel count": (5, lambda ln: ln.rsplit(" ", 1)[0], "expected 2304 pixels, found 2303"),
    "extra pixel": (6, lambda ln: ln + " 7", "expected 2304 pixels, found 2305"),
    "non-integer pixel": (7, set_pixel("12.5"), "pixel 5 '12.5' is not an integer"),
    "letter pixel": (8, set_pixel("ab"), "pixel 5 'ab' is not an integer"),
    "pixel 256": (9, set_pixel("256"), "pixel 5 is 256, outside 0-255"),
    "negative pixel": (10, set_pixel("-1"), "pixel 5 is -1, outside 0-255"),
    "pixel wraps uint16": (11, set_pixel("65537"), "pixel 5 is 65537, outside 0-255"),
    "label 7": (12, lambda ln: "7" + ln[1:], "label 7 is not a class 0-6"),
    "label -1": (13, lambda ln: "-1" + ln[1:], "label -1 is not a class 0-6"),
    "label text": (14, lambda ln: "happy" + ln[1:], "label 'happy' is not an integer"),
    "extra field": (15, lambda ln: ln + ",x", "expected 2 fields, found 3"),
    "missing field": (16, lambda ln: ln.split(",")[1], "expected 2 fields, found 1"),
    "empty line": (17, lambda ln: "", "empty line"),
}


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_bad_training_rows_name_the_line(tmp_path, case):
    write_homework(tmp_path)
    lineno, edit, problem = TRAIN_CASES[case]
    replace_line(tmp_path / "train.csv", lineno, edit)
    with pytest.raises(InputError) as err:
        load_data(tmp_path)
    assert str(err.value) == f"{tmp_path / 'train.csv'}, line {lineno}: {problem}"


@pytest.mark.parametrize(
    "header, problem",
    [
        ("label", "missing column(s) feature"),
        ("label,feature,extra", "unexpected column(s) extra"),
        (
            "emotion,pixels",
            "missing column(s) label, feature; unexpected column(s) emotion, pixels",
        ),
        ("feature,label", "columns out of order"),
    ],
)
def test_wrong_columns(tmp_path, header, problem):
    write_homework(tmp_path)
    replace_line(tmp_path / "train.csv", 1, lambda _: header)
    with pytest.raises(
        InputError, match="line 1: " + problem.replace("(", r"\(").replace(")", r"\)")
    ):
        load_data(tmp_path)


@pytest.mark.parametrize(
    "content, problem",
    [(b"", "file is empty"), (b"label,feature\n", "no data rows after the header")],
)
def test_empty_files(tmp_path, content, problem):
    write_homework(tmp_path)
    (tmp_path / "train.csv").write_bytes(content)
    with pytest.raises(InputError, match=problem):
        load_data(tmp_path)


def test_missing_paths(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        load_data(tmp_path / "nowhere")
    with pytest.raises(InputError, match="no training data: expected one of train.csv"):
        load_data(tmp_path)


def test_truncated_gzip(tmp_path):
    write_homework(tmp_path, gz=True)
    blob = (tmp_path / "train.csv.gz").read_bytes()
    (tmp_path / "train.csv.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match=r"train.csv.gz: truncated gzip file"):
        load_data(tmp_path)


def test_corrupt_gzip(tmp_path):
    write_homework(tmp_path, gz=True)
    blob = bytearray((tmp_path / "test.csv.gz").read_bytes())
    blob[20:40] = b"\x00" * 20
    (tmp_path / "test.csv.gz").write_bytes(bytes(blob))
    with pytest.raises(InputError, match=r"test.csv.gz: (corrupt|truncated) gzip file"):
        load_data(tmp_path)


@pytest.mark.parametrize(
    "lineno, edit, problem",
    [
        (4, lambda ln: "1" + ln[ln.index(",") :], "duplicate id 1"),
        (5, lambda ln: "x3" + ln[ln.index(",") :], "id 'x3' is not an integer"),
        (6, lambda ln: "-4" + ln[ln.index(",") :], "id -4 is negative"),
    ],
)
def test_bad_test_ids(tmp_path, lineno, edit, problem):
    write_homework(tmp_path)
    replace_line(tmp_path / "test.csv", lineno, edit)
    with pytest.raises(InputError, match=f"test.csv, line {lineno}: {problem}"):
        load_data(tmp_path)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("3,9", "label 9 is not a class 0-6"),
        ("99,1", "id 99 is not in the test set"),
        ("3", "expected 2 fields, found 1"),
        ("3,sad", "label 'sad' is not an integer"),
        ("0,1", "duplicate id 0"),
    ],
)
def test_bad_public_labels(tmp_path, line, problem):
    write_homework(tmp_path)
    replace_line(tmp_path / "public_labels.csv", 5, lambda _: line)
    with pytest.raises(InputError, match=f"public_labels.csv, line 5: {problem}"):
        load_data(tmp_path)


def test_bad_kaggle_usage(tmp_path):
    write_kaggle(tmp_path / "fer2013.csv")
    replace_line(tmp_path / "fer2013.csv", 3, lambda ln: ln.rsplit(",", 1)[0] + ",Validation")
    with pytest.raises(InputError, match="line 3: Usage 'Validation' is not one of Training"):
        load_data(tmp_path / "fer2013.csv")


def test_bad_kaggle_pixels(tmp_path):
    write_kaggle(tmp_path / "fer2013.csv")
    replace_line(tmp_path / "fer2013.csv", 7, lambda ln: ln.replace(" ", " 300 ", 1))
    with pytest.raises(InputError, match="fer2013.csv, line 7: expected 2304 pixels, found 2305"):
        load_data(tmp_path / "fer2013.csv")


def test_cli_reports_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    write_homework(tmp_path / "d")
    replace_line(tmp_path / "d" / "train.csv", 9, set_pixel("300"))
    argv = ["--data", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m")]
    with pytest.raises(SystemExit) as code:
        train_main("cnn", argv + ["--figures-dir", str(tmp_path / "f")])
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 9: pixel 5 is 300" in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "f").exists()
    with pytest.raises(SystemExit) as code:
        predict_main(["--data", str(tmp_path / "d"), "--out", str(tmp_path / "s.csv")])
    assert code.value.code == 2 and not (tmp_path / "s.csv").exists()


def test_corrupt_model_is_one_line(tmp_path, capsys):
    write_homework(tmp_path / "d")
    (tmp_path / "bad.keras").write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "s.csv"
    with pytest.raises(SystemExit) as code:
        predict_main(
            [
                "--model",
                str(tmp_path / "bad.keras"),
                "--data",
                str(tmp_path / "d"),
                "--out",
                str(out),
            ]
        )
    err = capsys.readouterr().err
    assert code.value.code == 2 and err.count("\n") == 1
    assert "bad.keras: not a readable model" in err and not out.exists()


def test_no_traceback_from_the_real_script(tmp_path):
    write_homework(tmp_path)
    (tmp_path / "train.csv").write_bytes(gzip.compress(b"label,feature\n")[:10])
    result = subprocess.run(
        [sys.executable, str(ROOT / "train_cnn.py"), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'train.csv'}: truncated gzip file"
    assert "Traceback" not in result.stderr


def test_tensorflow_is_not_loaded_for_input_that_is_refused(tmp_path):
    # Its start-up chatter reaches the terminal where the quiet import is bypassed.
    write_homework(tmp_path)
    (tmp_path / "train.csv").write_bytes(gzip.compress(b"label,feature\n")[:10])
    script = (
        "import sys\n"
        "from ferkit.train.cli import train_main\n"
        "try:\n"
        f"    train_main('cnn', ['--data', {str(tmp_path)!r}, '--model', 'lean',"
        " '--progressive', '24:2'])\n"
        "except SystemExit as e:\n"
        "    print(e.code, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split() == ["2", "False", "False"], result.stderr
