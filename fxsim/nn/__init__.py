"""The seed papers' methods, bit-exact: requantization, integer batch norm,
thresholds, shift/Range/Graham batch norm, and the papers' quantizers."""
