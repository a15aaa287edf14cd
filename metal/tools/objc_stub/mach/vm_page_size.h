// Syntax-check stub (tools/check-metal).
#pragma once
extern unsigned long vm_page_size;
