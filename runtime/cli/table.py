"""Listings as columns as wide as their widest cell (ps, images ls, network ls)."""


def print_table(rows: list[tuple[str, ...]]) -> None:
    """rows[0] is the header. Two spaces between columns, so a long name never runs into the next one."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
