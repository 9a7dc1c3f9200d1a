"""Train the reference CNN on FER2013. `python train_cnn.py --help` lists the flags."""

from ferkit.cli import headless
from ferkit.train.cli import train_main

if __name__ == "__main__":
    headless()
    train_main("cnn")
