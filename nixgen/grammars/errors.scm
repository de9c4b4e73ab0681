; Syntax problems in a tree: ERROR nodes (unexpected text) and zero-width MISSING nodes
; (a token the parser had to invent). nixgen.syntax turns each capture into a NixSyntaxError.
(ERROR) @error
(MISSING) @missing
