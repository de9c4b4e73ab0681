# Shared by the nixgen NixOS helpers: load a NixOS given as "<lookup>" or an absolute path.
{
  nixosFunction = spec:
    let
      isLookup = builtins.substring 0 1 spec == "<";
      name = builtins.substring 1 (builtins.stringLength spec - 2) spec;
    in
    import (if isLookup then builtins.findFile builtins.nixPath name else /. + spec);
}
