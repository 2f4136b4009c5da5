# Writes a text file into a C++ source as a raw string literal:
#   cmake -DIN=file -DOUT=file.cpp -DSYMBOL=kName -P EmbedText.cmake
# defines `extern const char *const dlc::kName`. Used for the DSL prelude and
# for the ABI header that every generated model header embeds.
file(READ ${IN} TEXT)
file(WRITE ${OUT} "// Generated from ${IN}; edit that file.\n"
  "namespace dlc {\n"
  "extern const char *const ${SYMBOL};\n"
  "const char *const ${SYMBOL} = R\"dlcembed(${TEXT})dlcembed\";\n"
  "}\n")
