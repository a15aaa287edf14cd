# cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P embed.cmake: writes the bytes of INPUT as a C
# array `const unsigned char name[]` and its length `const unsigned long long name_size`.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR bytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" body "${body}")
file(WRITE ${OUTPUT} "/* Generated from ${INPUT} by embed.cmake. */\n"
     "const unsigned char ${SYMBOL}[${bytes} + 1] = {\n${body}0x00};\n"
     "const unsigned long long ${SYMBOL}_size = ${bytes};\n")
