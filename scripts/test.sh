#!/usr/bin/env bash
# The project's test command. CI (.ci/run) runs it unchanged; so should you.
#
#   ./scripts/test.sh
#
# Steps: gofmt, go vet, go test, short fuzzing of the decoders, one pass of
# every benchmark, and `fixtap-bench -short` (the side-by-side comparison's
# harness, docs/performance.md). Any failure stops the run with a non-zero status.
#
# Environment:
#   FIXTAP_REQUIRE_INTEGRATION=1  a test that cannot run here (missing chronyd,
#                                 openssl, ...) fails instead of skipping; CI
#                                 sets it (see internal/testenv).
#   FIXTAP_FUZZTIME               time per fuzz target (default 15s).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export GOTOOLCHAIN=local

# Fuzz targets run by step 4: "<FuzzName> <package>" per line. Every decoder
# of untrusted bytes gets one; a listed target that does not exist is a
# failure, not a silent pass.
fuzz_targets=(
	"FuzzTransform ./internal/jcs"
	"FuzzCanonicalEvent ./internal/chain"
	"FuzzDecodeRecord ./internal/chain"
	"FuzzMap ./internal/fixmap"
	"FuzzParse ./internal/tapconfig"
	"FuzzChronyReply ./internal/clock"
	"FuzzPTPReply ./internal/clock"
	"FuzzParseCheckpointText ./internal/seal"
	"FuzzDecodeCheckpointRecord ./internal/seal"
	"FuzzDecodeAnchorRecord ./internal/seal"
	"FuzzDecodeReceipt ./internal/replica"
	"FuzzDecodeState ./internal/replica"
	"FuzzParseLine ./internal/verify"
	"FuzzParseTlogProof ./internal/verify"
	"FuzzParseCheckpoint ./internal/verify"
	"FuzzReadArchive ./internal/verify"
	"FuzzExtract ./internal/verify"
	"FuzzParseKey ./internal/index"
	"FuzzScan ./internal/index"
	"FuzzScan ./internal/xref"
	"FuzzInterleavings ./internal/xref"
	"FuzzDecodeState ./internal/xref"
	"FuzzEqual ./internal/decimal"
	"FuzzParsePolicy ./internal/cosign"
	"FuzzParseResponse ./internal/witness"
	"FuzzAccept ./internal/witness"
	"FuzzDecodeCosignedRecord ./internal/witness"
	"FuzzParseWindows ./internal/monitor"
	"FuzzParseState ./internal/monitor"
	"FuzzParseEntryBundle ./internal/monitor"
	"FuzzParseEvent ./internal/monitor"
)
fuzztime="${FIXTAP_FUZZTIME:-15s}"

step_start=$SECONDS
step() {
	printf '\n==> [%ds] %s\n' "$((SECONDS - step_start))" "$*"
}

step "environment: $(go version); FIXTAP_REQUIRE_INTEGRATION=${FIXTAP_REQUIRE_INTEGRATION:-<unset>}; FIXTAP_FUZZTIME=${fuzztime}"

step "1/5 gofmt -l (tracked and untracked .go files)"
# Go files git knows or would add (honours .gitignore); outside a git
# checkout, every .go file. testdata may hold deliberately odd Go source.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -d '' go_files < <(git ls-files -z --cached --others --exclude-standard -- '*.go')
else
	mapfile -d '' go_files < <(find . -name '*.go' -not -path './.git/*' -print0)
fi
existing=()
for f in "${go_files[@]}"; do
	case "/$f" in */testdata/*) continue ;; esac
	[[ -f "$f" ]] && existing+=("$f")
done
if ((${#existing[@]} > 0)); then
	unformatted="$("$(go env GOROOT)/bin/gofmt" -l "${existing[@]}")"
	if [[ -n "$unformatted" ]]; then
		echo "gofmt: these files are not formatted (run gofmt -w on them):" >&2
		echo "$unformatted" >&2
		exit 1
	fi
fi
echo "ok: ${#existing[@]} files formatted"

step "2/5 go vet ./..."
go vet ./...

step "3/5 go test -count=1 -timeout 30m ./..."
go test -count=1 -timeout 30m ./...

# fuzz_one fuzzes one target for $fuzztime. Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" when -fuzztime ends
# while a worker is mid-call on a loaded machine (golang/go#75804, fixed in
# Go 1.27): nothing found, no input written. Only that exact outcome is run
# once more; any other failure — a failing input written, a panic, a
# t.Fatal — fails at once, and so does the same flake twice.
fuzz_one() {
	local name=$1 pkg=$2 out rc attempt
	for attempt in 1 2; do
		out="$(mktemp)"
		set +e
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
		set -e
		if ((rc == 0)); then
			rm -f "$out"
			return 0
		fi
		if ((attempt == 1)) && grep -q '^    context deadline exceeded$' "$out" &&
			! grep -q -e 'Failing input written to' -e '^panic:' -e '_test\.go:[0-9]*:' "$out"; then
			echo "fuzz: $name stopped with the fuzz coordinator's deadline race (golang/go#75804), nothing found; running it once more"
			rm -f "$out"
			continue
		fi
		rm -f "$out"
		return "$rc"
	done
}

step "4/5 fuzzing the decoders, ${fuzztime} each"
for entry in "${fuzz_targets[@]}"; do
	read -r name pkg <<<"$entry"
	if ! listed="$(go test -list "^${name}\$" "$pkg")"; then
		echo "fuzz: cannot list the tests of $pkg" >&2
		exit 1
	fi
	if ! grep -qx "$name" <<<"$listed"; then
		echo "fuzz: target $name not found in $pkg (listed in scripts/test.sh)" >&2
		exit 1
	fi
	step "4/5 fuzz $name $pkg"
	fuzz_one "$name" "$pkg"
done

step "5/5 benchmarks, one iteration each (does the harness run? speed is measured elsewhere)"
go test -run '^$' -bench . -benchtime 1x ./...

step "5/5 fixtap-bench -short: the side-by-side harness runs end to end (~1 min; speed is not judged)"
go run ./cmd/fixtap-bench -short

step "all steps passed"
