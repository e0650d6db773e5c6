#!/usr/bin/env bash
# Builds the two base images of deploy/Containerfile from Debian packages, for a machine where no image registry
# answers: a minimal Debian 12 root file system (debootstrap, with libicu, CA certificates and libstdc++ that .NET and
# ONNX Runtime need) plus this machine's .NET installation (the SDK for the build stage, only the .NET and ASP.NET
# Core runtimes for the final stage).
#
#   deploy/build-local-bases.sh            # needs root, debootstrap and podman (apt-get install debootstrap podman)
#   podman build --network host -f deploy/Containerfile -t reranker:0.1.0 \
#     --build-arg SDK_IMAGE=localhost/reranker-sdk-base --build-arg RUNTIME_IMAGE=localhost/reranker-runtime-base .
set -euo pipefail
work="${WORK:-/tmp/reranker-bases}"
dotnet_root="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$work"

if [ ! -x "$work/rootfs/bin/sh" ]; then
  debootstrap --variant=minbase --include=libicu72,ca-certificates,libstdc++6 bookworm "$work/rootfs" "$mirror"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
fi

import() { # import NAME DIR: a root file system as an image with dotnet on PATH
  tar -C "$2" -c . | podman import \
    --change 'ENV PATH=/usr/share/dotnet:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV DOTNET_ROOT=/usr/share/dotnet' \
    --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1' \
    --change 'CMD ["/bin/bash"]' - "$1"
}

rm -rf "$work/sdk" "$work/runtime"
cp -a "$work/rootfs" "$work/sdk"
mkdir -p "$work/sdk/usr/share/dotnet"
cp -a "$dotnet_root/." "$work/sdk/usr/share/dotnet/"
import localhost/reranker-sdk-base "$work/sdk"

cp -a "$work/rootfs" "$work/runtime"
mkdir -p "$work/runtime/usr/share/dotnet/shared"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$dotnet_root/LICENSE.txt" "$dotnet_root/ThirdPartyNotices.txt" "$work/runtime/usr/share/dotnet/"
cp -a "$dotnet_root/shared/Microsoft.NETCore.App" "$dotnet_root/shared/Microsoft.AspNetCore.App" "$work/runtime/usr/share/dotnet/shared/"
import localhost/reranker-runtime-base "$work/runtime"
rm -rf "$work/sdk" "$work/runtime"
podman images --filter reference='localhost/reranker-*'
