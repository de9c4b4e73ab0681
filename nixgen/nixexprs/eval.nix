# Evaluate a file (or a value given with --arg value EXPR), apply arguments, select an attribute path.
# Every input but `value` is JSON text passed with --argstr and decoded here; none is ever code.
{ value ? null, file ? "null", attrPath ? "[]", args ? "{}", hasArgs ? "false" }:
let
  fileName = builtins.fromJSON file;
  path = builtins.fromJSON attrPath;
  argSet = builtins.fromJSON args;
  giveArgs = builtins.fromJSON hasArgs;
  root = if fileName == null then value else import fileName;
  call = v:
    if builtins.isFunction v && (giveArgs || builtins.functionArgs v != { })
    then v argSet
    else v;
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
in
call (builtins.foldl' step { where = ""; value = root; } path).value
