"""Train the parameter-matched DNN on FER2013. `python train_dnn.py --help` lists the flags."""

from ferkit.cli import headless
from ferkit.train.cli import train_main

if __name__ == "__main__":
    headless()
    train_main("dnn")
