#!/usr/bin/env bash
# Package check (run by .ci/run after the tests).
#
# 0. Every relative link and #anchor of README.md and docs/*.md resolves (build/check-links.cs).
# 1. The README's own steps, extracted from README.md ("Install") so they cannot drift: its pack command (every
#    packable project into artifacts/feed), its nuget.config (the folder feed plus nuget.org, with source mapping) in a
#    new console application outside the repository, and its 'dotnet add package' commands, restored into an EMPTY
#    packages folder, so every dependency really comes from nuget.org and Reranker from the folder. Then every
#    ```csharp block of README.md and of docs/*.md (the manuals: CONFIGURATION, LONG-DOCUMENTS, LIFETIME-AND-ERRORS,
#    RAG, HUB, ...) is compiled in that application as its Program.cs, as a user pastes it, and the async example
#    (docs/LIFETIME-AND-ERRORS.md, the block that calls PredictAsync) is run on the tiny model (its progress lines must
#    come before its result). The tool package is installed and run.
# 2. The contents and metadata of the .nupkg/.snupkg.
# 3. samples/Quickstart built against the package (PackageReference, not the ProjectReference) prints exactly what
#    the ProjectReference build prints.
#
# The only edits made to what the docs say: /path/to/Reranker becomes this clone, /models/bge-reranker-v2-m3-ko the
# bundled tiny model (for the one example that is run), and 'tool install --global' becomes '--tool-path'.
# Work files: artifacts/package-check/ (ignored by git) and a temporary folder outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$PWD/artifacts/package-check"
rm -rf "$work"
mkdir -p "$work"

fail() { echo "package-check: FAIL: $*" >&2; exit 1; }
step() { echo "package-check: $*"; }

version=$(dotnet msbuild src/Reranker/Reranker.csproj -getProperty:Version)
[[ -n "$version" ]] || fail "no Version in Directory.Build.props"

# The fenced block that follows '<!-- package-check: NAME -->' in README.md, without its list indentation.
readme_block() {
    awk -v name="$1" '
        $0 ~ "<!-- package-check: " name " -->" { armed = 1; next }
        armed && !inside && /^ *```/ { inside = 1; match($0, /^ */); indent = RLENGTH; next }
        inside && /^ *```/ { exit }
        inside { print substr($0, indent + 1) }
    ' README.md
}

# --- 0. links --------------------------------------------------------------------------------------------------------
step "links of README.md and docs/*.md"
dotnet run build/check-links.cs || fail "broken links or anchors in README.md or docs/*.md (above)"

# --- 1. the README's steps ------------------------------------------------------------------------------------------
pack_block=$(readme_block pack)
[[ -n "$pack_block" ]] || fail "README.md has no '<!-- package-check: pack -->' block"
step "README pack step: $pack_block"
rm -rf artifacts/feed
bash -euo pipefail -c "$pack_block" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; fail "the README's pack command failed"; }
feed="$PWD/artifacts/feed"
for id in Reranker Reranker.Extensions.DependencyInjection Reranker.Extensions.VectorData Reranker.Agents.AI Reranker.Tool; do
    [[ -f "$feed/$id.$version.nupkg" ]] || fail "the README's pack command did not produce $id.$version.nupkg"
    [[ -f "$feed/$id.$version.snupkg" ]] || fail "the README's pack command did not produce $id.$version.snupkg"
done

user=$(mktemp -d)   # outside the repository: none of its Directory.*.props or NuGet settings apply
trap 'rm -rf "$user"' EXIT
app="$user/MyApp"
dotnet new console -o "$app" >/dev/null
config=$(readme_block nuget.config)
[[ -n "$config" ]] || fail "README.md has no '<!-- package-check: nuget.config -->' block"
grep -q '/path/to/Reranker/artifacts/feed' <<<"$config" || fail "the README's nuget.config does not point to /path/to/Reranker/artifacts/feed"
printf '%s\n' "${config//\/path\/to\/Reranker/$PWD}" >"$app/nuget.config"

add_block=$(readme_block add)
[[ -n "$add_block" ]] || fail "README.md has no '<!-- package-check: add -->' block"
while read -r line; do
    [[ "$line" =~ --version\ ([^ ]+) ]] && [[ "${BASH_REMATCH[1]}" != "$version" ]] \
        && fail "README says '$line' but the version is $version"
done <<<"$add_block"
export NUGET_PACKAGES="$user/packages"   # empty: nothing cached can stand in for nuget.org or the folder
step "README add step in a new console app, packages folder $NUGET_PACKAGES (empty)"
(cd "$app" && bash -euo pipefail -c "$add_block") >"$work/add.log" 2>&1 || { cat "$work/add.log" >&2; fail "the README's 'dotnet add package' commands failed"; }
[[ -f "$NUGET_PACKAGES/reranker/$version/reranker.$version.nupkg.sha512" ]] || fail "Reranker was not restored into the empty packages folder"
[[ "$(cat "$NUGET_PACKAGES/reranker/$version/reranker.$version.nupkg.sha512")" == "$(openssl dgst -sha512 -binary "$feed/Reranker.$version.nupkg" | base64 -w0)" ]] \
    || fail "the restored Reranker is not the one in artifacts/feed"
[[ -d "$NUGET_PACKAGES/microsoft.ml.onnxruntime" ]] || fail "ONNX Runtime was not restored from nuget.org"

# Every C# block of the README and of docs/*.md, as Program.cs of that application. The DI example needs a host, as a
# user's would.
hosting=$(sed -nE 's/.*"Microsoft.Extensions.DependencyInjection" Version="([^"]+)".*/\1/p' Directory.Packages.props)
(cd "$app" && dotnet add package Microsoft.Extensions.Hosting --version "$hosting") >>"$work/add.log" 2>&1 \
    || { cat "$work/add.log" >&2; fail "could not add Microsoft.Extensions.Hosting"; }
mkdir -p "$work/snippets"
# One file per block, named after its document: snippet-README-01.cs, snippet-RAG-02.cs, ...
for doc in README.md docs/*.md; do
    awk -v dir="$work/snippets" -v name="$(basename "$doc" .md)" '
        /^ *```csharp *$/ { inside = 1; n++; match($0, /^ */); indent = RLENGTH; file = sprintf("%s/snippet-%s-%02d.cs", dir, name, n); printf "" > file; next }
        inside && /^ *```/ { inside = 0; close(file); next }
        inside { print substr($0, indent + 1) >> file }
    ' "$doc"
done
# The blocks each document is known to hold, so that a block lost in an edit (or an extraction that finds none) fails.
expect_blocks() {
    local n
    n=$(find "$work/snippets" -name "snippet-$1-*.cs" | wc -l)
    [[ "$n" -ge "$2" ]] || fail "expected at least $2 C# blocks in $1.md ($3), found $n"
}
expect_blocks README 2 "the quick start: Create, Predict, Rank; the RAG one-liner"
expect_blocks CONFIGURATION 2 "FromPretrainedAsync and dependency injection"
expect_blocks LONG-DOCUMENTS 1 "chunking"
expect_blocks LIFETIME-AND-ERRORS 1 "the async example, which is also run"
expect_blocks RAG 2 "VectorData and Agent Framework"
expect_blocks HUB 1 "HubSnapshot.DownloadAsync"
count=$(find "$work/snippets" -name 'snippet-*.cs' | wc -l)
ran=0
for snippet in "$work/snippets"/snippet-*.cs; do
    cp "$snippet" "$app/Program.cs"
    if ! (cd "$app" && dotnet build -c Release --no-restore -nologo -v:q) >"$work/snippet.log" 2>&1; then
        cat "$work/snippet.log" >&2
        fail "C# block $(basename "$snippet") does not compile as pasted:\n$(cat "$snippet")"
    fi
    if grep -q 'PredictAsync' "$snippet"; then
        sed "s|/models/bge-reranker-v2-m3-ko|$PWD/models/tiny-xlmr-reranker|" "$snippet" >"$app/Program.cs"
        (cd "$app" && dotnet build -c Release --no-restore -nologo -v:q >/dev/null && dotnet run -c Release --no-build) >"$work/async.out" 2>&1 \
            || { cat "$work/async.out" >&2; fail "the async example $(basename "$snippet") failed on the tiny model"; }
        # Its claim: progress is printed as scoring goes, so the last report (3/3) comes before the result line.
        awk '/^scored 3\/3$/ { seen = 1 } /^scores: / { exit !seen }' "$work/async.out" \
            || fail "the async example printed its result before its last progress line: $(cat "$work/async.out")"
        ran=$((ran + 1))
    fi
done
[[ "$ran" -ge 1 ]] || fail "no C# block calls PredictAsync: the async example (docs/LIFETIME-AND-ERRORS.md) was not run"
step "OK: the README's pack, nuget.config and add steps restore from an empty packages folder; the $count C# blocks of README.md and docs/*.md compile; the async example ran"

(cd "$user" && dotnet tool install --tool-path "$user/tools" Reranker.Tool --version "$version" --add-source "$feed") >"$work/tool.log" 2>&1 \
    || { cat "$work/tool.log" >&2; fail "the tool does not install from artifacts/feed"; }
"$user/tools/reranker" --help >"$work/tool-help.txt" || fail "the installed reranker tool does not run"
grep -q 'export' "$work/tool-help.txt" && grep -q 'eval' "$work/tool-help.txt" || fail "reranker --help lists no verbs: $(cat "$work/tool-help.txt")"
unset NUGET_PACKAGES
step "OK: Reranker.Tool installs from the folder and runs"

# --- 2. package contents --------------------------------------------------------------------------------------------
nupkg="$feed/Reranker.$version.nupkg"
snupkg="$feed/Reranker.$version.snupkg"
[[ -f "$nupkg" ]] || fail "$nupkg not produced"
[[ -f "$snupkg" ]] || fail "$snupkg not produced"

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

# The core keeps its small dependency set: the retrieval adapters' dependencies are theirs alone.
for heavy in Microsoft.Extensions.VectorData.Abstractions Microsoft.Agents.AI Microsoft.Extensions.AI.Abstractions; do
    if grep -q "<dependency id=\"$heavy\"" <<<"$nuspec"; then fail "the Reranker package depends on $heavy"; fi
done

# The extension packages: library, XML documentation and PDB, metadata, and a dependency on this very Reranker (the
# Agent Framework one through Reranker.Extensions.VectorData, checked below).
for id in Reranker.Extensions.DependencyInjection Reranker.Extensions.VectorData Reranker.Agents.AI; do
    entries=$(unzip -Z1 "$feed/$id.$version.nupkg")
    for entry in "lib/net10.0/$id.dll" "lib/net10.0/$id.xml"; do
        grep -qx "$entry" <<<"$entries" || fail "$entry missing from $id.$version.nupkg"
    done
    grep -qx "lib/net10.0/$id.pdb" <<<"$(unzip -Z1 "$feed/$id.$version.snupkg")" || fail "$id.pdb missing from its .snupkg"
    spec=$(unzip -p "$feed/$id.$version.nupkg" "$id.nuspec")
    for pattern in "<version>$version</version>" '<license type="expression">MIT</license>' '<description>[^<]+</description>'; do
        grep -qE "$pattern" <<<"$spec" || fail "$id.nuspec lacks $pattern"
    done
    if [[ "$id" != Reranker.Agents.AI ]]; then
        grep -q "<dependency id=\"Reranker\" version=\"$version\"" <<<"$spec" || fail "$id does not depend on Reranker $version"
    fi
done
grep -q '<dependency id="Microsoft.Extensions.VectorData.Abstractions"' <(unzip -p "$feed/Reranker.Extensions.VectorData.$version.nupkg" Reranker.Extensions.VectorData.nuspec) \
    || fail "Reranker.Extensions.VectorData does not depend on Microsoft.Extensions.VectorData.Abstractions"
if unzip -p "$feed/Reranker.Extensions.VectorData.$version.nupkg" Reranker.Extensions.VectorData.nuspec | grep -q '<dependency id="Microsoft.Agents.AI"'; then
    fail "Reranker.Extensions.VectorData depends on the Agent Framework"
fi
agents=$(unzip -p "$feed/Reranker.Agents.AI.$version.nupkg" Reranker.Agents.AI.nuspec)
grep -q '<dependency id="Microsoft.Agents.AI"' <<<"$agents" || fail "Reranker.Agents.AI does not depend on Microsoft.Agents.AI"
grep -q "<dependency id=\"Reranker.Extensions.VectorData\" version=\"$version\"" <<<"$agents" || fail "Reranker.Agents.AI does not depend on Reranker.Extensions.VectorData $version"
step "OK: the extension packages hold their library, documentation and symbols, and the core depends on none of theirs"

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

# --- 3. the sample against the package ---------------------------------------------------------------------------
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
    -p:RestoreAdditionalProjectSources="$feed" -p:RestoreFallbackFolders="$work/fallback" \
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
