# The evaluated value of one option of a configuration: `config.PATH` of NixOS with that configuration.
# Arguments (JSON texts passed with --argstr): nixos ("<nixos>" or an absolute path),
# configuration (absolute path of the configuration file), path (list of attribute names).
# Functions inside the value become markers (values.nix), so any option can be shown as JSON.
{ nixos, configuration, path }:
let
  common = import ./nixos-common.nix;
  system = (common.nixosFunction (builtins.fromJSON nixos)) {
    configuration = /. + (builtins.fromJSON configuration);
  };
  names = builtins.fromJSON path;
  step = acc: name:
    let where = acc.where; v = acc.value; in {
      where = if where == "" then name else "${where}.${name}";
      value =
        if builtins.isAttrs v && v ? ${name} then v.${name}
        else if builtins.isAttrs v then
          throw "option '${if where == "" then name else "${where}.${name}"}' does not exist in this configuration"
        else throw "cannot look inside '${where}': its value is a ${builtins.typeOf v}";
    };
in
(import ./values.nix).printable (builtins.foldl' step { where = ""; value = system.config; } names).value
