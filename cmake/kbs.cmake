# kbs_library(<target> [DEPS <targets...>]): static library from the *.c files of the current
# directory (main.c and *_main.c excluded), registered for the test binaries.
function(kbs_library target)
  cmake_parse_arguments(A "" "" "DEPS;SOURCES" ${ARGN})
  if(A_SOURCES)
    set(srcs ${A_SOURCES})
  else()
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
    list(FILTER srcs EXCLUDE REGEX ".*/(main|[a-z_-]+_main)\\.c$")
  endif()
  add_library(${target} STATIC ${srcs})
  target_link_libraries(${target} PUBLIC ${A_DEPS})
  set_property(GLOBAL APPEND PROPERTY KBS_LIBS ${target})
endfunction()

# kbs_soname(<var> <name> [<dir>...]): the SONAME of lib<name>.so (as the linker would find it,
# also in <dir>s) for code that dlopen()s an optional library instead of linking it
# (common/dynlib.h). Falls back to lib<name>.so when it cannot be read.
function(kbs_soname var name)
  find_library(KBS_SONAME_LIB_${name} NAMES ${name} HINTS ${ARGN})
  set(so "lib${name}.so")
  if(KBS_SONAME_LIB_${name})
    find_program(KBS_READELF NAMES readelf ${CMAKE_READELF})
    if(KBS_READELF)
      execute_process(COMMAND ${KBS_READELF} -d ${KBS_SONAME_LIB_${name}}
                      OUTPUT_VARIABLE out ERROR_QUIET)
      if(out MATCHES "\\(SONAME\\)[^[]*\\[([^]]+)\\]")
        set(so "${CMAKE_MATCH_1}")
      endif()
    endif()
  endif()
  set(${var} "${so}" PARENT_SCOPE)
endfunction()
