# cmake -DIN=bootsector.bin -DOUT=demo-bootsector.c -P bin2c.cmake
# The assembled boot sector as the C array demo_bootsector (see demo.h).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" len)
if(NOT len EQUAL 1024)
  message(FATAL_ERROR "${IN}: ${len} hex digits, a boot sector has 1024")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from tools/guest/bootsector.S (MODE=0) by bin2c.cmake. */\n"
  "#include \"demo.h\"\n\nconst unsigned char demo_bootsector[512] = {\n    ${bytes}\n};\n")
