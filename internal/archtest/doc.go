// Package archtest holds no code, only a test: TestImportDirection checks
// that the module's packages import one another in the direction
// docs/architecture.md draws. The compiler forbids import cycles, not a
// direction, so without it a package could import one above it as long as
// nothing imported back.
package archtest
