#!/usr/bin/env bash
# Package check (run by .ci/run after the tests): packs src/Reranker into a local folder feed, checks what the
# .nupkg/.snupkg contain, then builds samples/Quickstart against that package (PackageReference, not the
# ProjectReference), runs it on the bundled tiny model and requires exactly the output of the ProjectReference build.
#
# The restore uses its own packages folder, so a Reranker package cached earlier can never be picked up; the other
# dependencies are taken from the machine's global packages folder (read-only, as a fallback folder without Reranker)
# so nothing large is downloaded again. Work files: artifacts/package-check/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

work="$PWD/artifacts/package-check"
rm -rf "$work"
mkdir -p "$work"

fail() { echo "package-check: FAIL: $*" >&2; exit 1; }
step() { echo "package-check: $*"; }

version=$(dotnet msbuild src/Reranker/Reranker.csproj -getProperty:Version)
[[ -n "$version" ]] || fail "no Version in Directory.Build.props"
step "packing Reranker $version"
dotnet pack src/Reranker/Reranker.csproj -c Release -o "$work/feed" -nologo -v:q

nupkg="$work/feed/Reranker.$version.nupkg"
snupkg="$work/feed/Reranker.$version.snupkg"
[[ -f "$nupkg" ]] || fail "$nupkg not produced"
[[ -f "$snupkg" ]] || fail "$snupkg not produced"

# --- package contents -----------------------------------------------------------------------------------------
entries=$(unzip -Z1 "$nupkg")
for entry in README.md lib/net10.0/Reranker.dll lib/net10.0/Reranker.xml; do
    grep -qx "$entry" <<<"$entries" || fail "$entry missing from the .nupkg"
done
grep -qx 'lib/net10.0/Reranker.pdb' <<<"$(unzip -Z1 "$snupkg")" || fail "Reranker.pdb missing from the .snupkg"
grep -q '<member name="M:Reranker.CrossEncoder.Rank' <(unzip -p "$nupkg" lib/net10.0/Reranker.xml) \
    || fail "Reranker.xml has no documentation for CrossEncoder.Rank"

nuspec=$(unzip -p "$nupkg" Reranker.nuspec)
expect() { grep -qE "$1" <<<"$nuspec" || fail ".nuspec lacks $2 (pattern: $1)"; }
expect "<version>$version</version>" "the version from Directory.Build.props"
expect '<authors>[^<]+</authors>' "authors"
expect '<license type="expression">MIT</license>' "the MIT license expression"
expect '<readme>README.md</readme>' "the readme"
expect '<tags>[^<]*reranker[^<]*</tags>' "tags"
expect '<description>[^<]+</description>' "a description"
expect '<repository type="git"' "repository metadata"
ort=$(grep -oE '<dependency id="Microsoft\.ML\.OnnxRuntime"[^>]*>' <<<"$nuspec") \
    || fail "Microsoft.ML.OnnxRuntime is not a dependency of the package"
# The default exclude (Build,Analyzers) is fine; native or runtime assets must not be excluded.
if grep -qiE 'exclude="[^"]*(Native|Runtime|Compile|All)' <<<"$ort"; then fail "ORT assets excluded: $ort"; fi

# SourceLink needs a git remote on a known host; this repository may have none (then the PDB still embeds the
# sources, see Directory.Build.props).
if remote=$(git remote get-url origin 2>/dev/null) && [[ "$remote" =~ (github\.com|gitlab\.com|dev\.azure\.com|bitbucket\.org) ]]; then
    mkdir -p "$work/snupkg" && unzip -q -o "$snupkg" -d "$work/snupkg"
    grep -aq '"documents"' "$work/snupkg/lib/net10.0/Reranker.pdb" || fail "no SourceLink map in Reranker.pdb (remote $remote)"
    grep -q "url=\"$remote\"" <<<"$nuspec" || fail ".nuspec repository url is not $remote"
    step "SourceLink map present for $remote"
else
    step "no hosted git remote: SourceLink map not expected (sources are embedded in the PDB)"
fi

# --- the sample against the package ---------------------------------------------------------------------------
global=$(dotnet nuget locals global-packages --list | sed -E 's/^global-packages: *//')
global=${global%/}
mkdir -p "$work/fallback"
if [[ -d "$global" ]]; then
    for dir in "$global"/*/; do
        name=$(basename "$dir")
        [[ "$name" == reranker ]] || ln -s "${dir%/}" "$work/fallback/$name"
    done
fi

# A copy of the sample (same csproj and code) under artifacts/, so that its obj/ and bin/ never mix with those of the
# ProjectReference build; Directory.Build.props and Directory.Packages.props are still found above it.
step "building samples/Quickstart with PackageReference Reranker $version"
mkdir -p "$work/Quickstart"
cp samples/Quickstart/Quickstart.csproj samples/Quickstart/*.cs "$work/Quickstart/"
dotnet build "$work/Quickstart/Quickstart.csproj" -c Release -nologo -v:q \
    -p:UseRerankerPackage=true -p:RerankerPackageVersion="$version" \
    -p:RestoreAdditionalProjectSources="$work/feed" -p:RestoreFallbackFolders="$work/fallback" \
    -p:RestorePackagesPath="$work/packages" -o "$work/out"

assets="$work/Quickstart/obj/project.assets.json"
grep -q "\"Reranker/$version\": {" "$assets" || fail "Reranker $version not in $assets"
grep -A2 "\"Reranker/$version\": {" "$assets" | grep -q '"type": "package"' || fail "Reranker resolved as a project, not the package"
# The restored package is the one just packed (same SHA-512), not a stale copy.
restored="$work/packages/reranker/$version/reranker.$version.nupkg.sha512"
[[ -f "$restored" ]] || fail "Reranker was not restored into $work/packages"
[[ "$(cat "$restored")" == "$(openssl dgst -sha512 -binary "$nupkg" | base64 -w0)" ]] || fail "restored Reranker differs from the packed one"
cmp -s "$work/out/Reranker.dll" <(unzip -p "$nupkg" lib/net10.0/Reranker.dll) || fail "output Reranker.dll is not the packaged one"

rid=$(dotnet --info | sed -nE 's/^ *RID: *//p' | head -n1)
native="$work/out/runtimes/$rid/native/libonnxruntime.so"
case "$rid" in
    win-*) native="$work/out/runtimes/$rid/native/onnxruntime.dll" ;;
    osx-*) native="$work/out/runtimes/$rid/native/libonnxruntime.dylib" ;;
esac
[[ -f "$native" ]] || fail "native ONNX Runtime did not reach the output: $native"
step "native runtime in output: ${native#"$work/"}"

dotnet "$work/out/Quickstart.dll" >"$work/package-output.txt"

step "building samples/Quickstart with the ProjectReference"
dotnet build samples/Quickstart/Quickstart.csproj -c Release -nologo -v:q
dotnet samples/Quickstart/bin/Release/net10.0/Quickstart.dll >"$work/project-output.txt"

grep -q '^Query: ' "$work/package-output.txt" || fail "unexpected Quickstart output: $(cat "$work/package-output.txt")"
[[ $(grep -cE '^[01]\.[0-9]{4}  ' "$work/package-output.txt") -eq 7 ]] || fail "expected 7 score lines: $(cat "$work/package-output.txt")"
diff -u "$work/project-output.txt" "$work/package-output.txt" || fail "the package build prints other scores than the project build"
step "OK: the packaged library prints the same 7 scores as the project build"
