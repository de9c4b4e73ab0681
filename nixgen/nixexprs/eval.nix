# Evaluate a file (or a value given with --arg value EXPR), apply arguments, select an attribute path.
# Every input but `value` is JSON text passed with --argstr and decoded here; none is ever code.
# printable ("true"/"false"): functions inside the value become markers (see values.nix).
{ value ? null, file ? "null", attrPath ? "[]", args ? "{}", hasArgs ? "false", printable ? "false" }:
let
  fileName = builtins.fromJSON file;
  path = builtins.fromJSON attrPath;
  argSet = builtins.fromJSON args;
  giveArgs = builtins.fromJSON hasArgs;
  root = if fileName == null then value else import fileName;
  # As Nix's auto-call: a function with named arguments gets those it names (defaults fill
  # the rest); any other function gets the whole argument set.
  apply = v:
    let formals = builtins.functionArgs v; in
    if formals == { } then v argSet else v (builtins.intersectAttrs formals argSet);
  call = v:
    if builtins.isFunction v && (giveArgs || builtins.functionArgs v != { }) then apply v else v;
  isIndex = s: builtins.match "[0-9]+" s != null;
  step = acc: name:
    let v = call acc.value; where = acc.where; in
    {
      where = if where == "" then name else "${where}.${name}";
      value =
        if builtins.isAttrs v then
          (if v ? ${name} then v.${name}
           else throw "attribute '${name}' not found${if where == "" then "" else " in '${where}'"}")
        else if builtins.isList v && isIndex name then
          (let i = builtins.fromJSON name; in
           if i < builtins.length v then builtins.elemAt v i
           else throw "index ${name} is out of range in '${where}' (length ${toString (builtins.length v)})")
        else throw "cannot select '${name}': '${if where == "" then "<root>" else where}' is not an attribute set (its type is ${builtins.typeOf v})";
    };
  # A function met along the path is called (with the arguments, defaults filling the rest) so
  # that it can be selected from; the final value is called only when arguments were given.
  result = (builtins.foldl' step { where = ""; value = root; } path).value;
  final = if giveArgs && builtins.isFunction result then apply result else result;
in
if builtins.fromJSON printable then (import ./values.nix).printable final else final
