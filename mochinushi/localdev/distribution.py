"""Assembling a runnable OpenSearch with the Japanese plugins from Maven Central.

Maven Central publishes a runnable server (``integ-test-zip``, which holds only the transport
module) and the module/plugin *jars*, but not the plugin zips that ``opensearch-plugin install``
wants. A plugin folder is just its jars plus a ``plugin-descriptor.properties`` (and a security
policy when it needs permissions), so we resolve each plugin's runtime jars with Maven, drop
the ones the server already ships in ``lib/`` (two copies of a class is "jar hell" at start-up),
and write the descriptor ourselves.

The result is cached under ``<home>/dist/<version>/`` and marked complete with a manifest of
file sizes; a missing or mismatching manifest means a corrupt cache, which is rebuilt.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
MANIFEST_NAME = ".mochinushi-manifest.json"

PAINLESS_POLICY = """grant {
  // Painless compiles scripts to classes at run time.
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""


@dataclass(frozen=True)
class PluginSpec:
    """One module or plugin: its Maven artifact and what its descriptor must say."""

    name: str
    artifact: str
    classname: str
    description: str
    folder: str = "modules"
    policy: str | None = None


PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec(
        "analysis-common",
        "org.opensearch.plugin:analysis-common",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "Common analysis components (mapping char filter, ngram, pattern_replace, cjk_width)",
    ),
    PluginSpec(
        "mapper-extras",
        "org.opensearch.plugin:mapper-extras-client",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "Extra field types (rank_feature, scaled_float, search_as_you_type)",
    ),
    PluginSpec(
        "reindex",
        "org.opensearch.plugin:reindex-client",
        "org.opensearch.index.reindex.ReindexPlugin",
        "Reindex, update-by-query and delete-by-query",
    ),
    PluginSpec(
        "rank-eval",
        "org.opensearch.plugin:rank-eval-client",
        "org.opensearch.index.rankeval.RankEvalPlugin",
        "Ranking evaluation API",
    ),
    PluginSpec(
        "lang-painless",
        "org.opensearch.plugin:lang-painless",
        "org.opensearch.painless.PainlessPlugin",
        "Painless scripting language",
        policy=PAINLESS_POLICY,
    ),
    PluginSpec(
        "analysis-icu",
        "org.opensearch.plugin:analysis-icu-client",
        "org.opensearch.plugin.analysis.icu.AnalysisICUPlugin",
        "ICU normalisation, folding and transforms",
        folder="plugins",
    ),
    PluginSpec(
        "analysis-kuromoji",
        "org.opensearch.plugin:analysis-kuromoji",
        "org.opensearch.plugin.analysis.kuromoji.AnalysisKuromojiPlugin",
        "Japanese morphological analysis (kuromoji)",
        folder="plugins",
    ),
)


class DistributionError(RuntimeError):
    """The OpenSearch distribution could not be fetched or assembled."""


def distribution_dir(home: Path, version: str) -> Path:
    return home / "dist" / version / f"opensearch-{version}"


def is_complete(dist: Path) -> bool:
    """True when ``dist`` was fully assembled and no file has since gone missing or changed size."""
    manifest_path = dist / MANIFEST_NAME
    try:
        manifest: dict[str, int] = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    for relative, size in manifest.items():
        try:
            if (dist / relative).stat().st_size != size:
                return False
        except OSError:
            return False
    return bool(manifest)


def _run_maven(args: list[str], cwd: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DistributionError(
            "Maven (mvn) is not installed, and it is how the local OpenSearch is fetched. "
            "Install Maven (e.g. apt-get install maven), or use Docker (docker compose up), "
            "or point MOCHINUSHI_OPENSEARCH_URL at an existing cluster."
        )
    result = subprocess.run(
        [mvn, "-q", "-B", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise DistributionError(f"Maven failed ({' '.join(args[:2])}):\n{tail}")


def _pom(artifact: str, version: str) -> str:
    group, name = artifact.split(":")
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mochinushi</groupId><artifactId>fetch-{name}</artifactId>
  <version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>{group}</groupId><artifactId>{name}</artifactId>
      <version>{version}</version></dependency>
  </dependencies>
</project>
"""


def _descriptor(spec: PluginSpec, version: str) -> str:
    return "\n".join(
        [
            f"description={spec.description}",
            f"version={version}",
            f"name={spec.name}",
            f"classname={spec.classname}",
            "java.version=11",
            f"opensearch.version={version}",
            "custom.foldername=",
            "extended.plugins=",
            "has.native.controller=false",
            "",
        ]
    )


def _artifact_name(jar: str) -> str:
    """``lucene-core-9.10.0.jar`` → ``lucene-core``: what jar hell compares."""
    stem = jar.removesuffix(".jar")
    parts = stem.split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts) or stem


def _fetch_plugin(spec: PluginSpec, version: str, work: Path, server_jars: set[str]) -> Path:
    plugin_work = work / spec.name
    plugin_work.mkdir(parents=True)
    (plugin_work / "pom.xml").write_text(_pom(spec.artifact, version))
    _run_maven(
        [
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            "-DoutputDirectory=jars",
        ],
        plugin_work,
    )
    target = plugin_work / spec.name
    target.mkdir()
    for jar in sorted((plugin_work / "jars").glob("*.jar")):
        if _artifact_name(jar.name) not in server_jars:
            shutil.move(str(jar), target / jar.name)
    (target / "plugin-descriptor.properties").write_text(_descriptor(spec, version))
    if spec.policy:
        (target / "plugin-security.policy").write_text(spec.policy)
    return target


def _write_manifest(dist: Path) -> None:
    manifest = {
        str(p.relative_to(dist)): p.stat().st_size
        for p in sorted(dist.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }
    (dist / MANIFEST_NAME).write_text(json.dumps(manifest, indent=0))


def ensure_distribution(
    home: Path, version: str, progress: Callable[[str], None] = lambda _: None
) -> Path:
    """Return a complete distribution folder, fetching and assembling it on first use."""
    dist = distribution_dir(home, version)
    if is_complete(dist):
        return dist
    if dist.exists():
        progress(f"cached OpenSearch {version} is incomplete or corrupt: fetching it again")
        shutil.rmtree(dist)
    dist.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dist.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        progress(f"fetching OpenSearch {version} from Maven Central (first use only)")
        _run_maven(
            [
                f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:{version}:zip",
                "-DoutputDirectory=.",
            ],
            work,
        )
        archive = work / f"opensearch-{version}.zip"
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(work / "unpacked")
        staged = work / "unpacked" / f"opensearch-{version}"
        server_jars = {_artifact_name(p.name) for p in (staged / "lib").glob("*.jar")}
        for spec in PLUGINS:
            progress(f"fetching {spec.name}")
            folder = _fetch_plugin(spec, version, work / "plugins", server_jars)
            shutil.move(str(folder), staged / spec.folder / spec.name)
        for script in (staged / "bin").iterdir():
            script.chmod(0o755)
        _write_manifest(staged)
        staged.rename(dist)
    return dist
