from strongroom_cli.main import main

main()
