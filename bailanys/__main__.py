from bailanys.cli import main

main()
