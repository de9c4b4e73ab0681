# Which container dialects a NixOS declares: `systemd.containers` (legacy) and/or `containers` (modern).
# Argument: nixos, a JSON text ("<nixos>" or an absolute path). Only `options` is looked at.
{ nixos }:
let
  common = import ./nixos-common.nix;
  options = ((common.nixosFunction (builtins.fromJSON nixos)) { configuration = { }; }).options;
  has = set: name: builtins.isAttrs set && builtins.hasAttr name set;
in
{
  legacy = has options "systemd" && has options.systemd "containers";
  modern = has options "containers";
}
