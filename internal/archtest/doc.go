// Package archtest holds no code, only a test of the module's dependencies
// (TestDependencies, from one go list): that its packages import one
// another in the direction docs/architecture.md draws, and that only the
// program links the sops library. The compiler forbids import cycles, not a
// direction, so without it a package could import one above it as long as
// nothing imported back.
package archtest
