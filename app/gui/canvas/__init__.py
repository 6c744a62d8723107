"""The canvas: the scene that draws a page, its items (blocks, ports, wires) and the view."""
