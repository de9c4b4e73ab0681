# Which of the given search-path names (e.g. "nixpkgs/nixos", "nixos") resolve, and to what.
# Argument: names, a JSON list of strings (passed with --argstr). Result: a list of paths or nulls.
{ names }:
map (name:
  let found = builtins.tryEval (toString (builtins.findFile builtins.nixPath name)); in
  if found.success then found.value else null
) (builtins.fromJSON names)
