"""The text every report shares: numbers as table cells, and Markdown tables."""


def accuracy_text(value):
    """An accuracy (or any share) to four places; "-" where there is none."""
    return "-" if value is None else f"{value:.4f}"


def markdown_table(head, rows, numeric=()):
    """A Markdown table: head, a list of column names; rows, lists of cells; numeric,
    the columns (by index) to right-align."""
    align = ["---:" if i in numeric else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines
