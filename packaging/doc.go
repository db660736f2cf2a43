// Package packaging holds no code of the product: its tests check what `make release` and
// `make image` ship (scripts/release.sh, scripts/image.sh, Containerfile) the way a user
// gets it — binaries that build for every platform with their checksums, and an image whose
// binary runs and whose user is not root.
package packaging
