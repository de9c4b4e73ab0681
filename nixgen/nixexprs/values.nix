# Values made printable as JSON without losing what JSON cannot hold: a function becomes
# { __nixgen = "lambda"; }, a path { __nixgen = "path"; path = "/abs/path"; } (as a string, so
# that printing it neither copies it to the store nor needs it to exist), an attribute set that
# itself has a `__nixgen` attribute is wrapped as { __nixgen = "attrs"; attrs = …; } (so the
# marker is never ambiguous), a derivation becomes its output path. nixgen decodes these
# (nixgen.nix.decode_printable).
rec {
  printable = v:
    if builtins.isFunction v then { __nixgen = "lambda"; }
    else if builtins.isPath v then { __nixgen = "path"; path = toString v; }
    else if builtins.isAttrs v then
      (if v.type or null == "derivation" && v ? outPath then v.outPath
       else if v ? __nixgen then { __nixgen = "attrs"; attrs = builtins.mapAttrs (_: printable) v; }
       else builtins.mapAttrs (_: printable) v)
    else if builtins.isList v then map printable v
    else v;
}
