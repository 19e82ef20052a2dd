/* bus_lua.S - sync/bifrost.lua built into libbifrost as a NUL-terminated string (bus_script.c). */
	.section .rodata
	.global bf_bus_lua
	.type bf_bus_lua, @object
bf_bus_lua:
	.incbin "sync/bifrost.lua"
	.byte 0
	.size bf_bus_lua, . - bf_bus_lua
	.section .note.GNU-stack, "", @progbits
