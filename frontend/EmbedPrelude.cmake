# Writes the prelude's text into a C++ source as a raw string literal.
file(READ ${IN} TEXT)
file(WRITE ${OUT} "// Generated from frontend/prelude.dl; edit that file.\n"
  "#include <string>\nnamespace dlc {\n"
  "extern const char *const kPreludeText = R\"dlcprelude(${TEXT})dlcprelude\";\n"
  "}\n")
