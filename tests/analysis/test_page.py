"""figures/index.html as a reader sees it: rendered by headless Chromium."""

import html
import json
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Run in the page once it has loaded; the verdict lands in an attribute of <body>.
CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const empty = [...document.querySelectorAll("section")]
    .filter(s => s.querySelectorAll("img, table").length === 0).map(s => s.id);
  const links = [...document.querySelectorAll("nav a")].map(a => a.getAttribute("href"));
  const dangling = links.filter(h => !document.querySelector(h));
  document.body.setAttribute("data-check", JSON.stringify(
    {images: images.length, broken, empty, links: links.length, dangling}));
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent (Debian: apt install chromium)")
@pytest.mark.slow
def test_the_report_renders_every_image_section_and_link(tmp_path):
    page = tmp_path / "figures"
    shutil.copytree(ROOT / "figures", page)
    index = page / "index.html"
    index.write_text(index.read_text().replace("</body>", CHECK + "</body>"))
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
         "--dump-dom", index.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'data-check="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    check = json.loads(html.unescape(found.group(1)))
    assert check["images"] > 10 and check["broken"] == []
    assert check["empty"] == []
    assert check["links"] >= 7 and check["dangling"] == []
