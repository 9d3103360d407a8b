// Command bench runs digitops's benchmarks against helmfile, DIGIT's
// deployer's way and the two floors, on the real control plane, and writes
// the results into docs/benchmarks.md (between its bench:begin and
// bench:end markers).
//
//	bench/peers.sh                 # once: builds helm and helmfile
//	make build && go run ./bench/cmd/bench -out docs/benchmarks.md
//
// See `bench -h` for the flags.
package main
