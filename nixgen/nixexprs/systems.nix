# Evaluates every system nixgen builds in one Nix process, so shared files are parsed once.
#
# Arguments (each a JSON text passed with --argstr, decoded here):
#   nixos    the NixOS to use: "<nixpkgs/nixos>"-style search-path lookup or an absolute path
#   systems  a list of { name, configFile, isContainer }: configFile is an absolute path;
#            isContainer adds `boot.isContainer = mkDefault true` (a path-route container is
#            a container even when its file forgets to say so)
# Result: a list of { name, drv, out, containers } in input order, where containers
# lists the system each container of that configuration runs
# ({ legacy = { NAME = PATH; }; modern = { NAME = PATH; }; }, from the `path` NixOS computes).
{ nixos, systems }:
let
  nixosFn = (import ./nixos-common.nix).nixosFunction (builtins.fromJSON nixos);

  mkDefault = content: {
    _type = "override";
    priority = 1000;
    inherit content;
  };

  configurationOf =
    s:
    if s.isContainer or false then
      {
        _file = s.configFile;
        imports = [ (/. + s.configFile) ];
        boot.isContainer = mkDefault true;
      }
    else
      /. + s.configFile;

  containerPaths =
    set:
    builtins.mapAttrs (
      _: c:
      if c ? path && c.path != null then builtins.unsafeDiscardStringContext (toString c.path) else null
    ) set;

  evaluate =
    s:
    let
      result = nixosFn { configuration = configurationOf s; };
      config = result.config;
    in
    {
      inherit (s) name;
      drv = result.system.drvPath;
      out = result.system.outPath;
      containers = {
        legacy = containerPaths (config.systemd.containers or { });
        modern = containerPaths (config.containers or { });
      };
    };
in
map evaluate (builtins.fromJSON systems)
